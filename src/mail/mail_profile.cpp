#include "mail/mail_profile.hpp"

namespace mobix {

std::optional<MailProfile> pop3_profile(const Subscriber& s) {
  auto get = [&](const char* k) -> std::string {
    auto it = s.attrs.find(k);
    return it == s.attrs.end() ? std::string() : it->second;
  };
  MailProfile p;
  p.pop3 = parse_endpoint(get("mail.pop3"));
  p.user = get("mail.user");
  p.password = get("mail.password");
  p.address = get("mail.address");
  p.full_name = get("mail.name");
  if (!p.pop3 || p.user.empty() || p.password.empty()) return std::nullopt;
  return p;
}

}  // namespace mobix
