// libFuzzer target for what a connectivity box accepts as downloaded parameters 191 (seed 004
// Phase II [6], src/codec/cb/cb_params.cpp parse_operational): any input is refused with a reason or
// parsed into parameters whose required fields are present; nothing throws or reads out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "codec/cb/cb_params.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string why;
  auto p = mobix::cbproto::parse_operational(text, why);
  if (p) {
    if (p->cb_id.empty() || p->cb_name.empty() || p->nap_username.empty() || p->css_port == 0 ||
        p->css_host.empty())
      __builtin_trap();
  } else if (why.empty()) {
    __builtin_trap();  // a refusal always says why
  }
  return 0;
}
