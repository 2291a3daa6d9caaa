#pragma once
// Seed 001 step C: the relay tells which mobile server a client wants from the first bytes it
// sends, without terminating TLS: the server_name of a TLS ClientHello (RFC 8446 4.1.2, RFC 6066 3)
// or the Host header of an HTTP/1.x request (RFC 9112 3.2). Pure parsers over a prefix of the
// stream; `need_more` asks the caller to read more (up to a limit) and try again.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace mobix::peek {

enum class Outcome {
  need_more,  ///< the prefix ends before the answer; read more and call again
  not_this,   ///< the bytes are not this protocol
  no_name,    ///< the protocol, but without a name (no SNI extension / no Host header)
  malformed,  ///< the protocol, but broken
};
const char* to_string(Outcome o);

/// The lower-cased host name, or why not.
using Result = std::variant<std::string, Outcome>;

/// server_name (host_name type) from a TLS ClientHello, which may span several records.
Result tls_sni(std::span<const std::uint8_t> prefix);
/// Host header (port removed) of an HTTP/1.x request; the request head must end within `prefix`.
Result http_host(std::span<const std::uint8_t> prefix);

/// The value of the first `name` header (case-insensitive) in a complete HTTP/1.x request head,
/// trimmed; nullopt when absent or when the head is not complete.
std::optional<std::string> http_header(std::span<const std::uint8_t> prefix, std::string_view name);

/// Max octets a relay should buffer while peeking (a ClientHello with post-quantum key shares
/// is ~1.8 kB; an HTTP head rarely exceeds 8 kB).
inline constexpr std::size_t kMaxPeek = 16384;

}  // namespace mobix::peek
