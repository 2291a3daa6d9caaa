#pragma once
// Mobile IPv4 registration codec (RFC 5944 sections 3.3-3.5, 5.7): the Registration Request a
// mobile node sends its Home Agent over UDP 434 and the Registration Reply, with the
// Mobile-Home Authentication Extension (HMAC-MD5, RFC 5944 3.5.1) and timestamp identifications.
// Seed 003: the per-device proxy registers the device's home address through this (claim 5: a
// new care-of address when the device moves). Pure: bytes in, typed message or error out.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace mobix::mip {

inline constexpr std::uint16_t kPort = 434;
inline constexpr std::uint8_t kTypeRequest = 1;
inline constexpr std::uint8_t kTypeReply = 3;
inline constexpr std::size_t kRequestSize = 24;  ///< the fixed part, before extensions
inline constexpr std::size_t kReplySize = 20;
inline constexpr std::size_t kAuthenticatorSize = 16;  ///< HMAC-MD5
inline constexpr std::size_t kMaxMessageSize = 1024;   ///< more is refused (one UDP datagram, no NAI chains)
/// SPIs 0-255 are reserved (RFC 5944 section 1.6); a security association uses 256 or more.
inline constexpr std::uint32_t kMinSpi = 256;

/// Extension types (RFC 5944 section 3.5; IANA "Mobile IPv4 numbers").
namespace ext {
inline constexpr std::uint8_t mobile_home_auth = 32;
inline constexpr std::uint8_t mobile_foreign_auth = 33;
inline constexpr std::uint8_t foreign_home_auth = 34;
}  // namespace ext

/// Registration Request flags (RFC 5944 3.3): S B D M G r T x.
namespace flag {
inline constexpr std::uint8_t simultaneous = 0x80;
inline constexpr std::uint8_t broadcast = 0x40;
inline constexpr std::uint8_t decapsulation_by_mn = 0x20;  ///< co-located care-of address
inline constexpr std::uint8_t minimal_encapsulation = 0x10;
inline constexpr std::uint8_t gre = 0x08;
inline constexpr std::uint8_t reserved_r = 0x04;  ///< must be zero
inline constexpr std::uint8_t reverse_tunnel = 0x02;
inline constexpr std::uint8_t reserved_x = 0x01;  ///< must be zero (ignored on receipt)
}  // namespace flag

/// Reply codes a Home Agent sends (RFC 5944 3.4, RFC 3024 for 139).
enum class Code : std::uint8_t {
  accepted = 0,
  accepted_no_simultaneous = 1,
  reason_unspecified = 128,
  administratively_prohibited = 129,
  insufficient_resources = 130,
  mn_failed_authentication = 131,
  fa_failed_authentication = 132,
  identification_mismatch = 133,
  poorly_formed_request = 134,
  too_many_bindings = 135,
  unknown_home_agent = 136,
  encapsulation_unavailable = 139,
};
const char* to_string(Code c);
inline bool accepted(Code c) {
  return c == Code::accepted || c == Code::accepted_no_simultaneous;
}

/// IPv4 addresses in host order.
struct Request {
  std::uint8_t flags = 0;
  std::uint16_t lifetime = 0;  ///< seconds; 0 = deregistration
  std::uint32_t home_address = 0;
  std::uint32_t home_agent = 0;
  std::uint32_t care_of = 0;
  std::uint64_t identification = 0;
};

struct Reply {
  Code code = Code::accepted;
  std::uint16_t lifetime = 0;
  std::uint32_t home_address = 0;
  std::uint32_t home_agent = 0;
  std::uint64_t identification = 0;
};

/// A Mobile-Home Authentication Extension as found in a message.
struct Auth {
  std::uint32_t spi = 0;
  std::array<std::uint8_t, kAuthenticatorSize> authenticator{};
  /// The octets it covers (RFC 5944 3.5.1): the message up to and including its SPI field.
  std::size_t covered = 0;
};

enum class Error {
  too_short,
  too_long,
  wrong_type,
  truncated_extension,  ///< an extension's length runs past the end
  bad_auth_extension,   ///< an authentication extension too short for its SPI and authenticator
};
const char* to_string(Error e);

/// A decoded message and what the receiver must check (RFC 5944 3.8.2.1 for the Home Agent).
template <typename M>
struct Decoded {
  M message;
  std::optional<Auth> mobile_home;  ///< the first Mobile-Home Authentication Extension
  /// The first extension numbered 0-127 that this codec does not know, before the Mobile-Home
  /// Authentication Extension: the Home Agent must refuse the request (poorly formed, code 134).
  std::optional<std::uint8_t> unknown_critical;
};

std::variant<Decoded<Request>, Error> decode_request(std::span<const std::uint8_t> in);
/// The Home Address field of what looks like a Registration Request (type 1, the fixed part
/// present), before any check: to find its security association without decoding twice.
std::optional<std::uint32_t> peek_home_address(std::span<const std::uint8_t> in);
std::variant<Decoded<Reply>, Error> decode_reply(std::span<const std::uint8_t> in);

/// A Mobile IP security association (RFC 5944 1.6): SPI and shared key (HMAC-MD5).
struct SecurityAssociation {
  std::uint32_t spi = 0;
  std::vector<std::uint8_t> key;
};

std::vector<std::uint8_t> encode_request(const Request& r, const SecurityAssociation& sa);
std::vector<std::uint8_t> encode_reply(const Reply& r, const SecurityAssociation& sa);

/// True when `auth` matches HMAC-MD5 over `message`'s covered octets, compared in constant time.
bool verify(std::span<const std::uint8_t> message, const Auth& auth, const std::vector<std::uint8_t>& key);

/// Timestamp identifications (RFC 5944 5.7): the high 32 bits are NTP seconds (since 1900), the
/// low 32 bits a random nonce (the mobile node's) or a copy of the request's.
inline constexpr std::uint32_t kNtpUnixOffset = 2208988800u;
std::uint64_t timestamp_identification(std::int64_t unix_seconds, std::uint32_t low);
std::int64_t identification_unix_seconds(std::uint64_t identification);

std::string ipv4_to_string(std::uint32_t a);
std::optional<std::uint32_t> ipv4_from_string(const std::string& s);

}  // namespace mobix::mip
