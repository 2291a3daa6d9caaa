#pragma once
// Hexadecimal keys as operators write them in files and as the APIs carry them.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mobix {

/// "0a1B..." to octets; nullopt for an empty string, an odd length or a non-hex digit.
inline std::optional<std::vector<std::uint8_t>> decode_hex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
  }
  return out;
}

/// Octets to lower-case hex.
inline std::string encode_hex(std::span<const std::uint8_t> octets) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(octets.size() * 2);
  for (auto o : octets) {
    out.push_back(kDigits[o >> 4]);
    out.push_back(kDigits[o & 15]);
  }
  return out;
}

}  // namespace mobix
