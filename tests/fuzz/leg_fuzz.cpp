#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec/leg/leg.hpp"

// libFuzzer target for the relay's callback lines (seed 001 leg protocol): what parses formats back
// to the same line, and counts stay within kMaxLegsPerGo.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::leg;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  if (auto h = parse_hello(line))
    if (format_hello(*h) != std::string(line) + "\r\n") __builtin_trap();
  for (auto parse : {parse_go, parse_up})
    if (auto n = parse(line); n && *n > kMaxLegsPerGo) __builtin_trap();
  if (auto go = parse_go(line))
    if (format_go(*go) != std::string(line) + "\r\n") __builtin_trap();
  if (auto why = parse_down(line))
    if (format_down(*why) != std::string(line) + "\r\n") __builtin_trap();
  return 0;
}
