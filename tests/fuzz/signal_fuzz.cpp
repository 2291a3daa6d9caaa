// libFuzzer target for the access request signal (seed 001 step D): the body decoder (which the
// AEAD would otherwise hide from the fuzzer) must round-trip whatever it accepts, and open()
// must refuse forgeries without crashing.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/signal/signal.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::signal;
  std::span<const std::uint8_t> in(data, size);
  if (auto r = decode_body(in)) {
    auto again = encode_body(*r);
    if (!again || again->size() != size || !std::equal(again->begin(), again->end(), data)) __builtin_trap();
  }
  static const Keyring keys{{1, Key{}}};
  auto opened = open(in, keys);
  if (std::holds_alternative<AccessRequest>(opened) && size > kMaxSealedSize) __builtin_trap();
  return 0;
}
