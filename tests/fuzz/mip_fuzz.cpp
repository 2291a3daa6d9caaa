// libFuzzer target for the Mobile IPv4 registration codec (RFC 5944, seed 003): whatever decodes
// stays within the message, the covered length never passes its end, and a decoded message encodes
// again to the same fixed part.
#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/mip/mip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::mip;
  std::span<const std::uint8_t> in(data, size);
  static const SecurityAssociation sa{kMinSpi, std::vector<std::uint8_t>(16, 7)};
  auto req = decode_request(in);
  // The Home Agent's peek (its key lookup) sees the same home address the full decode does.
  auto peeked = peek_home_address(in);
  if (auto* d = std::get_if<Decoded<Request>>(&req); d && peeked != d->message.home_address) __builtin_trap();
  if (auto* d = std::get_if<Decoded<Request>>(&req)) {
    if (d->mobile_home && d->mobile_home->covered > size) __builtin_trap();
    if (d->mobile_home) (void)verify(in, *d->mobile_home, sa.key);
    auto again = encode_request(d->message, sa);
    if (!std::equal(again.begin(), again.begin() + kRequestSize, data)) __builtin_trap();
    auto back = decode_request(again);
    auto* b = std::get_if<Decoded<Request>>(&back);
    if (!b || !b->mobile_home || !verify(again, *b->mobile_home, sa.key)) __builtin_trap();
  }
  auto rep = decode_reply(in);
  if (auto* d = std::get_if<Decoded<Reply>>(&rep)) {
    if (d->mobile_home && d->mobile_home->covered > size) __builtin_trap();
    auto again = encode_reply(d->message, sa);
    if (!std::equal(again.begin(), again.begin() + kReplySize, data)) __builtin_trap();
  }
  return 0;
}
