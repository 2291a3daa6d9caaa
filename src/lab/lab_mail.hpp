#pragma once
// The lab's stand-in for the subscribers' real mail provider: a real Dovecot (POP3/IMAP)
// and a real SMTP server with AUTH (Debian's aiosmtpd) that delivers to the Dovecot
// mailboxes, both on loopback, so the whole seed 000 round trip runs with curl alone.
#include <sys/types.h>
#include <optional>
#include <string>
#include <vector>

#include "core/net.hpp"

namespace mobix {

struct LabMailUser {
  std::string user;
  std::string password;
};

struct LabMail {
  Endpoint pop3;
  Endpoint imap;
  Endpoint smtp;
  std::string domain = "mail.mobix.test";
  pid_t dovecot_pid = 0;
  pid_t smtp_pid = 0;
};

/// Starts both servers under DIR/mail; nullopt (with a warning) when Dovecot or aiosmtpd
/// is not installed.
std::optional<LabMail> start_lab_mail(const std::string& dir, const std::vector<LabMailUser>& users);
void stop_lab_mail(LabMail& m);

}  // namespace mobix
