// libFuzzer target for RadSec stream framing (RFC 6614 2.3) as the RadSec reader uses it:
// split the stream into frames, decode each packet, stop at the first invalid Length.
#include <cstddef>
#include <cstdint>

#include "codec/radius/radius.hpp"
#include "codec/radius/radsec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mobix::radius;
  std::span<const std::uint8_t> rest(data, size);
  for (;;) {
    auto f = next_frame(rest);
    if (f.status != Frame::Status::ready) break;
    if (f.length < kHeaderSize || f.length > kMaxPacketSize || f.length > rest.size()) __builtin_trap();
    auto p = decode(rest.first(f.length));
    if (p) (void)verify_response(rest.first(f.length), p->authenticator, kRadsecSecret);
    rest = rest.subspan(f.length);
  }
  return 0;
}
