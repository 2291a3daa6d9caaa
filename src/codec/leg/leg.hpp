#pragma once
// The leg protocol between gateway and relay on the relay's callback port, after TLS (seed 001
// steps H-I; src/relay/relay_links.hpp tells the story). Lines end in CRLF:
//   gateway -> relay: MOBIX-TUNNEL <tunnel id, 16 hex> <one-time key, 32 hex>
//                  or MOBIX-LINK <tunnel id> <one-time key>: a multiplexed link (net/tunnel_link.hpp)
//                     follows, HTTP/2 with the relay as client; no line below is used on it
//   relay -> gateway: MOBIX-GO <n>       n further legs wanted, 0..kMaxLegsPerGo
//   gateway -> relay: MOBIX-UP <m>       connected to the terminal, m <= n more legs coming
//                     MOBIX-DOWN <why>   the terminal cannot be reached (why: [a-z_]{1,32})
// Parsers are strict (exact length, lower-case hex, decimal digits only) and never throw.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mobix::leg {

inline constexpr unsigned kMaxLegsPerGo = 16;
inline constexpr std::size_t kKeySize = 16;  ///< the signal's one-time key

struct Hello {
  std::uint64_t tunnel_id = 0;
  std::array<std::uint8_t, kKeySize> key{};
  bool link = false;  ///< MOBIX-LINK: the connection becomes a multiplexed link
};

/// Each format_* returns the line with its CRLF; each parse_* takes the line without it.
std::string format_hello(const Hello& h);
std::optional<Hello> parse_hello(std::string_view line);
std::string format_go(unsigned more);  ///< `more` is capped at kMaxLegsPerGo
std::optional<unsigned> parse_go(std::string_view line);
std::string format_up(unsigned granted);  ///< capped at kMaxLegsPerGo
std::optional<unsigned> parse_up(std::string_view line);
std::string format_down(std::string_view why);  ///< a why that is not [a-z_]{1,32} is sent as "unreachable"
std::optional<std::string> parse_down(std::string_view line);

}  // namespace mobix::leg
