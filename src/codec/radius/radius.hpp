#pragma once
// RADIUS wire codec (RFC 2865 section 3 and 5, RFC 2866, RFC 3579 section 3.2, RFC 3162).
// Pure: bytes in, typed packet or error out; never throws on untrusted input.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/system/result.hpp>

namespace mobix::radius {

inline constexpr std::size_t kHeaderSize = 20;
inline constexpr std::size_t kMaxPacketSize = 4096;  // RFC 2865 section 3
inline constexpr std::uint32_t kVendor3gpp = 10415;  // 3GPP TS 29.061 section 16.4.7
inline constexpr std::uint8_t k3gppImsi = 1;
/// mobix's vendor-specific attributes (examples/radius/dictionary.mobix). 32473 is the
/// Private Enterprise Number IANA reserves for documentation (RFC 5612); an operator
/// deploying across networks should register its own and set it here.
inline constexpr std::uint32_t kVendorMobix = 32473;
inline constexpr std::uint8_t kMobixHostname = 1;  ///< the terminal's host name (seed 002)

enum class Code : std::uint8_t {
  access_request = 1,
  access_accept = 2,
  access_reject = 3,
  accounting_request = 4,
  accounting_response = 5,
  access_challenge = 11,
  status_server = 12,
  status_client = 13,
};

namespace attr {
inline constexpr std::uint8_t user_name = 1;
inline constexpr std::uint8_t user_password = 2;
inline constexpr std::uint8_t chap_password = 3;
inline constexpr std::uint8_t nas_ip_address = 4;
inline constexpr std::uint8_t nas_port = 5;
inline constexpr std::uint8_t service_type = 6;
inline constexpr std::uint8_t framed_protocol = 7;
inline constexpr std::uint8_t framed_ip_address = 8;
inline constexpr std::uint8_t reply_message = 18;
inline constexpr std::uint8_t state = 24;
inline constexpr std::uint8_t class_ = 25;
inline constexpr std::uint8_t vendor_specific = 26;
inline constexpr std::uint8_t session_timeout = 27;
inline constexpr std::uint8_t called_station_id = 30;
inline constexpr std::uint8_t calling_station_id = 31;
inline constexpr std::uint8_t nas_identifier = 32;
inline constexpr std::uint8_t acct_status_type = 40;
inline constexpr std::uint8_t acct_delay_time = 41;
inline constexpr std::uint8_t acct_session_id = 44;
inline constexpr std::uint8_t acct_session_time = 46;
inline constexpr std::uint8_t acct_terminate_cause = 49;
inline constexpr std::uint8_t event_timestamp = 55;
inline constexpr std::uint8_t chap_challenge = 60;
inline constexpr std::uint8_t message_authenticator = 80;
inline constexpr std::uint8_t acct_interim_interval = 85;
inline constexpr std::uint8_t framed_ipv6_prefix = 97;
}  // namespace attr

/// Acct-Status-Type values (RFC 2866 section 5.1).
enum class AcctStatus : std::uint32_t {
  start = 1,
  stop = 2,
  interim_update = 3,
  accounting_on = 7,
  accounting_off = 8
};

enum class DecodeError {
  too_short,        ///< fewer than 20 octets
  too_long,         ///< more than 4096 octets
  length_mismatch,  ///< header length larger than the datagram or smaller than 20
  bad_attribute,    ///< attribute length < 2 or running past the packet
  unknown_code,
};
std::string_view to_string(DecodeError e);
[[noreturn]] void throw_exception_from_error(DecodeError e, const boost::source_location& loc);

struct Attribute {
  std::uint8_t type = 0;
  std::vector<std::uint8_t> value;
};

using Authenticator = std::array<std::uint8_t, 16>;

struct Packet {
  Code code = Code::access_request;
  std::uint8_t identifier = 0;
  Authenticator authenticator{};
  std::vector<Attribute> attributes;

  const Attribute* find(std::uint8_t type) const;
  std::optional<std::string> text(std::uint8_t type) const;
  std::optional<std::uint32_t> integer(std::uint8_t type) const;
  /// Dotted-quad of a 4-octet address attribute.
  std::optional<std::string> ipv4(std::uint8_t type) const;
  /// "2001:db8::/64" from Framed-IPv6-Prefix (RFC 3162 section 2.3).
  std::optional<std::string> ipv6_prefix() const;
  /// Text of the first vendor-specific sub-attribute (RFC 2865 section 5.26 format).
  std::optional<std::string> vendor_text(std::uint32_t vendor, std::uint8_t type) const;

  void add(std::uint8_t type, std::span<const std::uint8_t> value);
  void add_text(std::uint8_t type, std::string_view value);
  void add_integer(std::uint8_t type, std::uint32_t value);
  /// `dotted` must be an IPv4 address; returns false (and adds nothing) otherwise.
  bool add_ipv4(std::uint8_t type, std::string_view dotted);
  void add_vendor_text(std::uint32_t vendor, std::uint8_t type, std::string_view value);
  /// Adds a zeroed Message-Authenticator, to be filled in by sign_*().
  void add_message_authenticator();
};

boost::system::result<Packet, DecodeError> decode(std::span<const std::uint8_t> bytes);
/// Serialises with the authenticator as set; attributes longer than 253 octets are truncated.
std::vector<std::uint8_t> encode(const Packet& p);

// --- Authenticators (all comparisons constant time) ---

enum class MessageAuthenticatorCheck { absent, valid, invalid };

/// RFC 3579 section 3.2 on a request: HMAC-MD5 over the packet as received with the
/// Message-Authenticator value zeroed.
MessageAuthenticatorCheck check_request_message_authenticator(std::span<const std::uint8_t> raw,
                                                              std::string_view secret);
/// RFC 2866 section 3: MD5(Code+Identifier+Length+16 zero octets+Attributes+Secret).
bool verify_accounting_request(std::span<const std::uint8_t> raw, std::string_view secret);
/// Verifies a reply's Response Authenticator (and Message-Authenticator when present)
/// against the request it answers.
bool verify_response(std::span<const std::uint8_t> raw, const Authenticator& request_auth,
                     std::string_view secret);

/// Server side: fills Message-Authenticator (if the packet has one) then the Response
/// Authenticator, using the request's authenticator (RFC 2865 section 3, RFC 3579 3.2).
std::vector<std::uint8_t> encode_response(Packet p, const Authenticator& request_auth,
                                          std::string_view secret);
/// 16 random octets from OpenSSL's CSPRNG (RFC 2865 3: unpredictable and unique).
Authenticator random_authenticator();
/// Client side: Access-Request with its Request Authenticator (random if all zero) and,
/// if present, the Message-Authenticator filled in.
std::vector<std::uint8_t> encode_access_request(Packet p, std::string_view secret);
/// Client side: Accounting-Request with its Request Authenticator computed.
std::vector<std::uint8_t> encode_accounting_request(Packet p, std::string_view secret);

/// User-Password hiding (RFC 2865 section 5.2). Decrypt returns nullopt on bad length.
std::vector<std::uint8_t> hide_password(std::string_view password, const Authenticator& request_auth,
                                        std::string_view secret);
std::optional<std::string> unhide_password(std::span<const std::uint8_t> hidden,
                                           const Authenticator& request_auth, std::string_view secret);

/// CHAP (RFC 2865 section 5.3, RFC 1994): response == MD5(ident + password + challenge).
/// The challenge is CHAP-Challenge when present, else the Request Authenticator.
bool verify_chap(const Packet& request, std::string_view password);

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

}  // namespace mobix::radius
