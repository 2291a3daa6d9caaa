// libFuzzer target for the IMAP pre-login parsers: command lines, literal announcements,
// quoted strings (whatever is quoted must round-trip without CR/LF).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec/imap/imap.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::imap;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = in.substr(0, in.find("\r\n"));
  if (auto c = parse_command(line))
    if (c->tag.empty() || c->name.empty()) __builtin_trap();
  (void)literal_at_end(line);
  if (auto q = quoted(in))
    if (q->find('\r') != std::string::npos || q->find('\n') != std::string::npos) __builtin_trap();
  return 0;
}
