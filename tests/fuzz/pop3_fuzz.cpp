// libFuzzer target for the POP3 command parser (each input line is one command).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec/pop3/pop3.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    auto eol = in.find("\r\n");
    auto line = in.substr(0, eol);
    auto p = mobix::pop3::parse_command(line);
    if (p.command && (p.command->keyword.size() < 3 || p.command->keyword.size() > 4)) __builtin_trap();
    if (eol == std::string_view::npos) break;
    in.remove_prefix(eol + 2);
  }
  return 0;
}
