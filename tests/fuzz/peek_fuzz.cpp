// libFuzzer target for the relay's SNI and Host peekers (seed 001 step C): any prefix of any
// stream; a name, when found, is a lower-case DNS name.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/peek/peek.hpp"

namespace {
void check(const mobix::peek::Result& r) {
  if (auto* name = std::get_if<std::string>(&r)) {
    if (name->empty() || name->size() > 253) __builtin_trap();
    for (char c : *name)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) __builtin_trap();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> in(data, size);
  check(mobix::peek::tls_sni(in));
  check(mobix::peek::http_host(in));
  if (auto v = mobix::peek::http_header(in, "Authorization"); v && v->find("\r\n") != std::string::npos)
    __builtin_trap();  // a header value never spans lines
  return 0;
}
