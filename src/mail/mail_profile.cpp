#include "mail/mail_profile.hpp"

namespace mobix {

namespace {
MailProfile read_profile(const Subscriber& s) {
  auto get = [&](const char* k) -> std::string {
    auto it = s.attrs.find(k);
    return it == s.attrs.end() ? std::string() : it->second;
  };
  MailProfile p;
  p.pop3 = parse_endpoint(get("mail.pop3"));
  p.smtp = parse_endpoint(get("mail.smtp"));
  p.imap = parse_endpoint(get("mail.imap"));
  p.user = get("mail.user");
  p.password = get("mail.password");
  p.smtp_user = get("mail.smtp_user");
  p.smtp_password = get("mail.smtp_password");
  if (p.smtp_user.empty()) {
    p.smtp_user = p.user;
    p.smtp_password = p.password;
  }
  p.address = get("mail.address");
  p.full_name = get("mail.name");
  return p;
}
}  // namespace

std::optional<MailProfile> smtp_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.smtp || p.address.empty() || p.address.find('@') == std::string::npos) return std::nullopt;
  return p;
}

std::optional<MailProfile> imap_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.imap || p.user.empty() || p.password.empty()) return std::nullopt;
  return p;
}

std::optional<MailProfile> pop3_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.pop3 || p.user.empty() || p.password.empty()) return std::nullopt;
  return p;
}

}  // namespace mobix
