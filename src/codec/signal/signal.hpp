#pragma once
// The access request signal (seed 001 step D): what the public relay sends the private gateway,
// by SMS (SMPP), e-mail or webhook, to have it open a tunnel. It carries the seed's parameters
// (the relay's IP address and callback port, a key securing the set-up, the target's call number
// and the tunnel's protocol) plus a tunnel id and an expiry, and must fit one binary SMS.
//
// Wire format, version 1 (all integers big-endian):
//   0   version (1) = 1
//   1   key id  (1)       which provisioned key sealed it (key rotation)
//   2   nonce   (12)      random per signal
//   14  ciphertext        ChaCha20-Poly1305 (RFC 8439) of the body, AAD = octets 0..13
//   ..  tag     (16)
// Body: tunnel id (8) | expires, Unix seconds (4) | relay address: family 4/6 (1) + 4 or 16 octets |
//       callback port (2) | target port (2) | protocol (1) | one-time key (16) |
//       target MSISDN: length (1) + digits (1..15)
// Sealed size: 30 + 36 + address + MSISDN = 81 octets for IPv4 and 12 digits; at most 108 (IPv6,
// 15 digits), so one 140-octet SMS always holds it.
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace mobix::signal {

inline constexpr std::size_t kKeySize = 32;
inline constexpr std::size_t kOneTimeKeySize = 16;
inline constexpr std::size_t kMaxSealedSize = 140;  ///< one binary SMS (3GPP TS 23.040)

/// What the client speaks. tls_passthrough: TLS end to end (routed by SNI) and the callback leg
/// leaves its own TLS once the key and the client's first flight crossed, so both proxies can
/// splice(2) the rest (docs/relay.md "The tunnel's legs").
enum class Protocol : std::uint8_t { tcp = 0, http = 1, tls = 2, tls_passthrough = 3 };

struct AccessRequest {
  std::uint64_t tunnel_id = 0;
  std::uint32_t expires = 0;  ///< Unix seconds
  std::string relay_ip;       ///< IPv4 or IPv6 text form
  std::uint16_t callback_port = 0;
  std::uint16_t target_port = 0;
  Protocol protocol = Protocol::tcp;
  std::array<std::uint8_t, kOneTimeKeySize> one_time_key{};
  std::string msisdn;  ///< the mobile server terminal, digits only
};

using Key = std::array<std::uint8_t, kKeySize>;
/// 64 hex digits (what `openssl rand -hex 32` prints) -> a key; nullopt for anything else.
std::optional<Key> key_from_hex(std::string_view hex);

enum class Error {
  too_short,
  bad_version,
  unknown_key,
  forged,  ///< authentication failed: wrong key, tampered or truncated
  malformed_body,
  bad_field,  ///< seal(): a field cannot be encoded (address, MSISDN)
};
const char* to_string(Error e);

/// Encrypts and authenticates. Errors only for fields that cannot be encoded.
std::variant<std::vector<std::uint8_t>, Error> seal(const AccessRequest& r, std::uint8_t key_id,
                                                    const Key& key);

/// The plaintext body alone (exposed for the fuzz target: the AEAD would hide it otherwise).
std::optional<AccessRequest> decode_body(std::span<const std::uint8_t> body);
/// nullopt when a field cannot be encoded.
std::optional<std::vector<std::uint8_t>> encode_body(const AccessRequest& r);

/// The keys a gateway accepts, by key id (old and new during a rotation).
using Keyring = std::map<std::uint8_t, Key>;

/// Verifies and decrypts. Does not check expiry or replay: that is the receiver's policy
/// (ReplayGuard below).
std::variant<AccessRequest, Error> open(std::span<const std::uint8_t> sealed, const Keyring& keys);

/// The gateway's memory of signals already acted on (seed 001 step E must happen once per
/// signal): a signal is accepted once, before its expiry, and not too far in the future.
class ReplayGuard {
 public:
  explicit ReplayGuard(std::uint32_t max_lifetime_seconds = 300) : max_lifetime_(max_lifetime_seconds) {}
  enum class Verdict { accept, expired, too_far_ahead, replayed };
  Verdict check(const AccessRequest& r, std::uint32_t now);
  /// Restores a tunnel id seen before a restart.
  void remember(std::uint64_t tunnel_id, std::uint32_t expires) { seen_[tunnel_id] = expires; }
  std::size_t remembered() const { return seen_.size(); }

 private:
  std::uint32_t max_lifetime_;
  std::map<std::uint64_t, std::uint32_t> seen_;  ///< tunnel id -> expiry, pruned as they expire
};
const char* to_string(ReplayGuard::Verdict v);

}  // namespace mobix::signal
