#include "directory/directory.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <stdexcept>

namespace mobix {

std::string normalize_msisdn(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c)))
      out.push_back(c);
    else if (c == '+' && out.empty())
      continue;
    else if (c == ' ' || c == '-')
      continue;
    else
      return {};
  }
  if (out.size() < 3 || out.size() > 15) return {};  // E.164: at most 15 digits
  return out;
}

namespace {
bool valid_hostname(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  std::size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return true;
}
bool printable(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}
}  // namespace

void validate_subscriber(Subscriber& s) {
  if (!s.msisdn.empty()) {
    auto n = normalize_msisdn(s.msisdn);
    if (n.empty()) throw std::invalid_argument("msisdn: not a phone number: \"" + s.msisdn + "\"");
    s.msisdn = n;
  }
  if (!s.imsi.empty()) {
    if (s.imsi.size() < 6 || s.imsi.size() > 15 ||
        s.imsi.find_first_not_of("0123456789") != std::string::npos)
      throw std::invalid_argument("imsi: must be 6 to 15 digits");
  }
  if (s.msisdn.empty() && s.imsi.empty() && s.username.empty() && s.serial.empty())
    throw std::invalid_argument("a subscriber needs at least one identity: msisdn, imsi, username or serial");
  if (!printable(s.username) || !printable(s.serial) || s.username.size() > 253)
    throw std::invalid_argument("username/serial: control characters are not allowed");
  if (!s.framed_ip.empty()) {
    unsigned char buf[4];
    if (inet_pton(AF_INET, s.framed_ip.c_str(), buf) != 1)
      throw std::invalid_argument("framed_ip: not an IPv4 address: \"" + s.framed_ip + "\"");
  }
  for (auto& c : s.hostname) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!s.hostname.empty() && !valid_hostname(s.hostname))
    throw std::invalid_argument("hostname: not a valid DNS name: \"" + s.hostname + "\"");
  // Attribute values go into protocol lines (SMTP envelopes, POP3/IMAP logins): no control
  // characters, so a CR LF cannot add a command (issue 12 item 7). Checked again at use.
  for (const auto& [k, v] : s.attrs)
    if (!printable(k) || !printable(v))
      throw std::invalid_argument(k + ": control characters are not allowed in attribute values");
  // The mail profile's TLS modes (see src/mail/mail_profile.hpp).
  for (const char* k : {"mail.pop3_tls", "mail.imap_tls", "mail.smtp_tls"}) {
    auto it = s.attrs.find(k);
    if (it != s.attrs.end() && it->second != "none" && it->second != "tls" && it->second != "starttls")
      throw std::invalid_argument(std::string(k) + ": must be none, tls or starttls, not \"" + it->second +
                                  "\"");
  }
}

namespace {
/// A store that cannot be read (the shared PostgreSQL unreachable) is the directory being
/// unavailable, as an LDAP server down is: callers answer "try later", never "unknown subscriber".
template <typename F>
auto readable(F&& f) {
  try {
    return f();
  } catch (const StoreConflict&) {
    throw;
  } catch (const StoreError& e) {
    throw DirectoryUnavailable(e.what());
  }
}
}  // namespace

std::optional<Subscriber> StoreDirectory::find(std::string_view identity) {
  return readable([&] { return find_any(identity); });
}

std::optional<Subscriber> StoreDirectory::find_any(std::string_view identity) {
  if (identity.empty()) return std::nullopt;
  if (auto m = normalize_msisdn(identity); !m.empty()) {
    if (auto s = repo_.find_subscriber(IdentityKind::msisdn, m)) return s;
    if (auto s = repo_.find_subscriber(IdentityKind::imsi, m)) return s;
  }
  if (auto s = repo_.find_subscriber(IdentityKind::username, identity)) return s;
  return repo_.find_subscriber(IdentityKind::serial, identity);
}

std::optional<Subscriber> StoreDirectory::find(IdentityKind kind, std::string_view value) {
  if (kind == IdentityKind::msisdn) {
    auto m = normalize_msisdn(value);
    if (m.empty()) return std::nullopt;
    return readable([&] { return repo_.find_subscriber(kind, m); });
  }
  return readable([&] { return repo_.find_subscriber(kind, value); });
}

Subscriber StoreDirectory::add(Subscriber s) {
  validate_subscriber(s);
  return repo_.add_subscriber(std::move(s));
}

void StoreDirectory::update(const Subscriber& s0) {
  Subscriber s = s0;
  validate_subscriber(s);
  repo_.update_subscriber(s);
}

}  // namespace mobix
