// libFuzzer target for the access request signal (seed 001 step D): the body decoder (which the
// AEAD would otherwise hide from the fuzzer) must round-trip whatever it accepts, and open()
// must refuse forgeries without crashing; the e-mail form's extractor must stay in bounds.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/signal/signal.hpp"
#include "codec/signal/signal_mail.hpp"

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
  // The e-mail form: whatever it extracts stays within the limit and survives composing again.
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto m = extract_from_mail(text, kMaxSealedSize)) {
    if (m->empty() || m->size() > kMaxSealedSize) __builtin_trap();
    auto again = extract_from_mail(compose_mail("a@b", "c@d", *m, "d", "i@d"), kMaxSealedSize);
    if (!again || *again != *m) __builtin_trap();
  }
  return 0;
}
