#include "codec/leg/leg.hpp"

#include <algorithm>

namespace mobix::leg {

namespace {

constexpr std::string_view kHello = "MOBIX-TUNNEL ";
constexpr std::string_view kLinkHello = "MOBIX-LINK ";
constexpr std::string_view kGo = "MOBIX-GO ";
constexpr std::string_view kUp = "MOBIX-UP ";
constexpr std::string_view kDown = "MOBIX-DOWN ";
constexpr char kHex[] = "0123456789abcdef";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // lower case only: what the gateway sends
}

/// "0".."16": one or two decimal digits, no sign, no leading zero but for "0", at most kMaxLegsPerGo.
std::optional<unsigned> count_after(std::string_view line, std::string_view prefix) {
  if (!line.starts_with(prefix)) return std::nullopt;
  auto digits = line.substr(prefix.size());
  if (digits.empty() || digits.size() > 2 || (digits.size() == 2 && digits[0] == '0')) return std::nullopt;
  unsigned n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<unsigned>(c - '0');
  }
  if (n > kMaxLegsPerGo) return std::nullopt;
  return n;
}

bool reason_token(std::string_view why) {
  return !why.empty() && why.size() <= 32 &&
         std::all_of(why.begin(), why.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

std::string format_hello(const Hello& h) {
  std::string out(h.link ? kLinkHello : kHello);
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(h.tunnel_id >> shift) & 15]);
  out.push_back(' ');
  for (auto b : h.key) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  out += "\r\n";
  return out;
}

std::optional<Hello> parse_hello(std::string_view line) {
  Hello h;
  h.link = line.starts_with(kLinkHello);
  const auto prefix = h.link ? kLinkHello : kHello;
  if (!line.starts_with(prefix) || line.size() != prefix.size() + 16 + 1 + 2 * kKeySize) return std::nullopt;
  auto id = line.substr(prefix.size(), 16);
  if (line[prefix.size() + 16] != ' ') return std::nullopt;
  auto key = line.substr(prefix.size() + 17);
  for (char c : id) {
    int d = hex_digit(c);
    if (d < 0) return std::nullopt;
    h.tunnel_id = h.tunnel_id << 4 | static_cast<std::uint64_t>(d);
  }
  for (std::size_t i = 0; i < kKeySize; ++i) {
    int hi = hex_digit(key[2 * i]), lo = hex_digit(key[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    h.key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return h;
}

std::string format_go(unsigned more) {
  return std::string(kGo) + std::to_string(std::min(more, kMaxLegsPerGo)) + "\r\n";
}
std::optional<unsigned> parse_go(std::string_view line) {
  return count_after(line, kGo);
}
std::string format_up(unsigned granted) {
  return std::string(kUp) + std::to_string(std::min(granted, kMaxLegsPerGo)) + "\r\n";
}
std::optional<unsigned> parse_up(std::string_view line) {
  return count_after(line, kUp);
}

std::string format_down(std::string_view why) {
  return std::string(kDown) + std::string(reason_token(why) ? why : "unreachable") + "\r\n";
}
std::optional<std::string> parse_down(std::string_view line) {
  if (!line.starts_with(kDown)) return std::nullopt;
  auto why = line.substr(kDown.size());
  if (!reason_token(why)) return std::nullopt;
  return std::string(why);
}

}  // namespace mobix::leg
