#include "codec/mip/mip.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>

namespace mobix::mip {

namespace {

std::uint16_t get16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}
std::uint32_t get32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) << 24 | static_cast<std::uint32_t>(b[at + 1]) << 16 |
         static_cast<std::uint32_t>(b[at + 2]) << 8 | b[at + 3];
}
std::uint64_t get64(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint64_t>(get32(b, at)) << 32 | get32(b, at + 4);
}
void put16(std::vector<std::uint8_t>& o, std::uint16_t v) {
  o.push_back(static_cast<std::uint8_t>(v >> 8));
  o.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& o, std::uint32_t v) {
  put16(o, static_cast<std::uint16_t>(v >> 16));
  put16(o, static_cast<std::uint16_t>(v));
}
void put64(std::vector<std::uint8_t>& o, std::uint64_t v) {
  put32(o, static_cast<std::uint32_t>(v >> 32));
  put32(o, static_cast<std::uint32_t>(v));
}

bool known_extension(std::uint8_t type) {
  return type == ext::mobile_home_auth || type == ext::mobile_foreign_auth || type == ext::foreign_home_auth;
}

struct Extensions {
  std::optional<Auth> mobile_home;
  std::optional<std::uint8_t> unknown_critical;
};

// Walks the type-length extensions after the fixed part (RFC 5944 1.10). Every extension this
// codec meets uses a one-octet length; an unknown one numbered 0-127 before the Mobile-Home
// authenticator makes the request poorly formed, so its format does not matter.
std::variant<Extensions, Error> walk_extensions(std::span<const std::uint8_t> in, std::size_t at) {
  Extensions out;
  while (at < in.size()) {
    if (in.size() - at < 2) return Error::truncated_extension;
    std::uint8_t type = in[at];
    std::size_t len = in[at + 1];
    if (in.size() - at - 2 < len) return Error::truncated_extension;
    if (type == ext::mobile_home_auth && !out.mobile_home) {
      if (len < 4 + kAuthenticatorSize) return Error::bad_auth_extension;
      Auth a;
      a.spi = get32(in, at + 2);
      std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(at + 6), kAuthenticatorSize,
                  a.authenticator.begin());
      a.covered = at + 6;
      out.mobile_home = a;
    } else if (type < 128 && !known_extension(type) && !out.mobile_home && !out.unknown_critical) {
      out.unknown_critical = type;
    }
    at += 2 + len;
  }
  return out;
}

std::array<std::uint8_t, kAuthenticatorSize> hmac_md5(std::span<const std::uint8_t> data,
                                                      const std::vector<std::uint8_t>& key) {
  std::array<std::uint8_t, kAuthenticatorSize> out{};
  unsigned n = 0;
  HMAC(EVP_md5(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &n);
  return out;
}

// Appends the Mobile-Home Authentication Extension covering everything before its authenticator.
void append_auth(std::vector<std::uint8_t>& o, const SecurityAssociation& sa) {
  o.push_back(ext::mobile_home_auth);
  o.push_back(static_cast<std::uint8_t>(4 + kAuthenticatorSize));
  put32(o, sa.spi);
  auto mac = hmac_md5(o, sa.key);
  o.insert(o.end(), mac.begin(), mac.end());
}

}  // namespace

const char* to_string(Code c) {
  switch (c) {
    case Code::accepted:
      return "accepted";
    case Code::accepted_no_simultaneous:
      return "accepted, simultaneous bindings unsupported";
    case Code::reason_unspecified:
      return "reason unspecified";
    case Code::administratively_prohibited:
      return "administratively prohibited";
    case Code::insufficient_resources:
      return "insufficient resources";
    case Code::mn_failed_authentication:
      return "mobile node failed authentication";
    case Code::fa_failed_authentication:
      return "foreign agent failed authentication";
    case Code::identification_mismatch:
      return "registration identification mismatch";
    case Code::poorly_formed_request:
      return "poorly formed request";
    case Code::too_many_bindings:
      return "too many simultaneous mobility bindings";
    case Code::unknown_home_agent:
      return "unknown home agent address";
    case Code::encapsulation_unavailable:
      return "requested encapsulation unavailable";
  }
  return "unknown code";
}

const char* to_string(Error e) {
  switch (e) {
    case Error::too_short:
      return "too short";
    case Error::too_long:
      return "too long";
    case Error::wrong_type:
      return "wrong message type";
    case Error::truncated_extension:
      return "extension runs past the end";
    case Error::bad_auth_extension:
      return "authentication extension too short";
  }
  return "unknown error";
}

std::variant<Decoded<Request>, Error> decode_request(std::span<const std::uint8_t> in) {
  if (in.size() < kRequestSize) return Error::too_short;
  if (in.size() > kMaxMessageSize) return Error::too_long;
  if (in[0] != kTypeRequest) return Error::wrong_type;
  Decoded<Request> d;
  d.message.flags = in[1];
  d.message.lifetime = get16(in, 2);
  d.message.home_address = get32(in, 4);
  d.message.home_agent = get32(in, 8);
  d.message.care_of = get32(in, 12);
  d.message.identification = get64(in, 16);
  auto exts = walk_extensions(in, kRequestSize);
  if (auto* e = std::get_if<Error>(&exts)) return *e;
  auto& x = std::get<Extensions>(exts);
  d.mobile_home = x.mobile_home;
  d.unknown_critical = x.unknown_critical;
  return d;
}

std::optional<std::uint32_t> peek_home_address(std::span<const std::uint8_t> in) {
  if (in.size() < kRequestSize || in.size() > kMaxMessageSize || in[0] != kTypeRequest) return std::nullopt;
  return get32(in, 4);
}

std::variant<Decoded<Reply>, Error> decode_reply(std::span<const std::uint8_t> in) {
  if (in.size() < kReplySize) return Error::too_short;
  if (in.size() > kMaxMessageSize) return Error::too_long;
  if (in[0] != kTypeReply) return Error::wrong_type;
  Decoded<Reply> d;
  d.message.code = static_cast<Code>(in[1]);
  d.message.lifetime = get16(in, 2);
  d.message.home_address = get32(in, 4);
  d.message.home_agent = get32(in, 8);
  d.message.identification = get64(in, 12);
  auto exts = walk_extensions(in, kReplySize);
  if (auto* e = std::get_if<Error>(&exts)) return *e;
  auto& x = std::get<Extensions>(exts);
  d.mobile_home = x.mobile_home;
  d.unknown_critical = x.unknown_critical;
  return d;
}

std::vector<std::uint8_t> encode_request(const Request& r, const SecurityAssociation& sa) {
  std::vector<std::uint8_t> o;
  o.reserve(kRequestSize + 6 + kAuthenticatorSize);
  o.push_back(kTypeRequest);
  o.push_back(r.flags);
  put16(o, r.lifetime);
  put32(o, r.home_address);
  put32(o, r.home_agent);
  put32(o, r.care_of);
  put64(o, r.identification);
  append_auth(o, sa);
  return o;
}

std::vector<std::uint8_t> encode_reply(const Reply& r, const SecurityAssociation& sa) {
  std::vector<std::uint8_t> o;
  o.reserve(kReplySize + 6 + kAuthenticatorSize);
  o.push_back(kTypeReply);
  o.push_back(static_cast<std::uint8_t>(r.code));
  put16(o, r.lifetime);
  put32(o, r.home_address);
  put32(o, r.home_agent);
  put64(o, r.identification);
  append_auth(o, sa);
  return o;
}

bool verify(std::span<const std::uint8_t> message, const Auth& auth, const std::vector<std::uint8_t>& key) {
  if (auth.covered > message.size() || key.empty()) return false;
  auto mac = hmac_md5(message.first(auth.covered), key);
  return CRYPTO_memcmp(mac.data(), auth.authenticator.data(), mac.size()) == 0;
}

std::uint64_t timestamp_identification(std::int64_t unix_seconds, std::uint32_t low) {
  auto ntp = static_cast<std::uint32_t>(static_cast<std::uint64_t>(unix_seconds) + kNtpUnixOffset);
  return static_cast<std::uint64_t>(ntp) << 32 | low;
}

std::int64_t identification_unix_seconds(std::uint64_t identification) {
  // NTP era 0 ends in 2036; seconds below the Unix epoch's NTP value belong to era 1.
  auto ntp = static_cast<std::uint32_t>(identification >> 32);
  std::int64_t s = static_cast<std::int64_t>(ntp) - kNtpUnixOffset;
  return ntp < kNtpUnixOffset ? s + (std::int64_t{1} << 32) : s;
}

std::string ipv4_to_string(std::uint32_t a) {
  char buf[INET_ADDRSTRLEN];
  std::uint32_t n = htonl(a);
  inet_ntop(AF_INET, &n, buf, sizeof buf);
  return buf;
}

std::optional<std::uint32_t> ipv4_from_string(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

}  // namespace mobix::mip
