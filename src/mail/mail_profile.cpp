#include "mail/mail_profile.hpp"

namespace mobix {

namespace {
// An explicit mode wins; otherwise the well-known port decides (RFC 8314 3.3, RFC 6409).
// A value validate_subscriber would refuse falls back to implicit TLS: never to plain text.
net::TlsMode tls_mode(const std::string& explicit_mode, const std::optional<Endpoint>& ep) {
  if (!explicit_mode.empty()) return net::parse_tls_mode(explicit_mode).value_or(net::TlsMode::implicit);
  if (!ep) return net::TlsMode::none;
  switch (ep->port) {
    case 993:
    case 995:
    case 465:
      return net::TlsMode::implicit;
    case 587:
      return net::TlsMode::starttls;
    default:
      return net::TlsMode::none;
  }
}

MailProfile read_profile(const Subscriber& s) {
  auto get = [&](const char* k) -> std::string {
    auto it = s.attrs.find(k);
    return it == s.attrs.end() ? std::string() : it->second;
  };
  MailProfile p;
  p.pop3 = parse_endpoint(get("mail.pop3"), true);
  p.smtp = parse_endpoint(get("mail.smtp"), true);
  p.imap = parse_endpoint(get("mail.imap"), true);
  p.pop3_tls = tls_mode(get("mail.pop3_tls"), p.pop3);
  p.imap_tls = tls_mode(get("mail.imap_tls"), p.imap);
  p.smtp_tls = tls_mode(get("mail.smtp_tls"), p.smtp);
  p.user = get("mail.user");
  p.password = get("mail.password");
  p.smtp_user = get("mail.smtp_user");
  p.smtp_password = get("mail.smtp_password");
  // Each falls back on its own: a provider may share the login name but not the password.
  if (p.smtp_user.empty()) p.smtp_user = p.user;
  if (p.smtp_password.empty()) p.smtp_password = p.password;
  p.address = get("mail.address");
  p.full_name = get("mail.name");
  return p;
}
// Every value that goes into a protocol line is free of control characters (a CR LF in a directory
// value would add a command upstream), whatever the directory let through (LDAP is not ours).
bool clean(const MailProfile& p) {
  for (const auto* v : {&p.user, &p.password, &p.smtp_user, &p.smtp_password, &p.address, &p.full_name})
    for (char c : *v)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  // The address goes into MAIL FROM:<...> as is.
  return p.address.find_first_of("<> ") == std::string::npos;
}
}  // namespace

std::optional<MailProfile> smtp_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.smtp || p.address.empty() || p.address.find('@') == std::string::npos || !clean(p))
    return std::nullopt;
  return p;
}

std::optional<MailProfile> imap_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.imap || p.user.empty() || p.password.empty() || !clean(p)) return std::nullopt;
  return p;
}

std::optional<MailProfile> pop3_profile(const Subscriber& s) {
  auto p = read_profile(s);
  if (!p.pop3 || p.user.empty() || p.password.empty() || !clean(p)) return std::nullopt;
  return p;
}

}  // namespace mobix
