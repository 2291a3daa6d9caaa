#include "directory/subscriber_rules.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <stdexcept>

#include "core/hex.hpp"
#include "core/text.hpp"

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

std::string* subscriber_field(Subscriber& s, std::string_view name) {
  if (name == "msisdn") return &s.msisdn;
  if (name == "imsi") return &s.imsi;
  if (name == "username") return &s.username;
  if (name == "serial") return &s.serial;
  if (name == "password") return &s.password;
  if (name == "framed_ip") return &s.framed_ip;
  if (name == "hostname") return &s.hostname;
  return nullptr;
}

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

void validate_device(Device& d) {
  if (!is_identity_token(d.identity_code))
    throw std::invalid_argument("identity_code: 4 to 64 of A-Z a-z 0-9 . _ : -");
  in_addr home{};
  if (inet_pton(AF_INET, d.home_address.c_str(), &home) != 1 || home.s_addr == 0)
    throw std::invalid_argument("home_address: must be an IPv4 address");
  char text[INET_ADDRSTRLEN];
  d.home_address = inet_ntop(AF_INET, &home, text, sizeof text);
  if (d.mip_spi < 256)
    throw std::invalid_argument("mip_spi: an integer from 256 to 4294967295 (RFC 5944 1.6)");
  auto key = decode_hex(d.mip_key_hex);
  if (!key || key->size() < 16 || key->size() > 64)
    throw std::invalid_argument("mip_key: 16 to 64 bytes in hex (128 bits or more for HMAC-MD5)");
}

}  // namespace mobix
