#pragma once
// The subscriber's real mail account (seed 000: server name, user name, password, e-mail
// address, full name), kept in the directory's subscriber attributes:
//   mail.pop3      "host:port" of the POP3 server
//   mail.user      login name at that server
//   mail.password  password at that server (never logged)
//   mail.address   e-mail address;  mail.name  full name (for the SMTP proxy)
//   mail.smtp      "host:port" of the submission server; mail.smtp_user / mail.smtp_password
//   mail.pop3_tls / mail.imap_tls / mail.smtp_tls  "none" | "tls" (implicit) | "starttls";
//                  when absent: implicit TLS on 995/993/465 (RFC 8314), STARTTLS on 587, else none
#include <optional>
#include <string>

#include "core/net.hpp"
#include "net/conn.hpp"
#include "store/records.hpp"

namespace mobix {

struct MailProfile {
  std::optional<Endpoint> pop3;
  std::optional<Endpoint> imap;  ///< mail.imap "host:port" of the IMAP server
  std::optional<Endpoint> smtp;  ///< mail.smtp "host:port" of the submission server
  net::TlsMode pop3_tls = net::TlsMode::none;
  net::TlsMode imap_tls = net::TlsMode::none;
  net::TlsMode smtp_tls = net::TlsMode::none;
  std::string smtp_user;      ///< mail.smtp_user, else mail.user; empty: no AUTH upstream
  std::string smtp_password;  ///< mail.smtp_password, else mail.password
  std::string user;
  std::string password;
  std::string address;
  std::string full_name;
};

/// nullopt when the subscriber has no usable mail account for POP3.
std::optional<MailProfile> pop3_profile(const Subscriber& s);
/// nullopt when the subscriber has no usable mail account for IMAP.
std::optional<MailProfile> imap_profile(const Subscriber& s);
/// nullopt when the subscriber has no submission server or no e-mail address.
std::optional<MailProfile> smtp_profile(const Subscriber& s);

}  // namespace mobix
