#include "codec/radius/radsec.hpp"

#include "codec/radius/radius.hpp"

namespace mobix::radius {

Frame next_frame(std::span<const std::uint8_t> buffered) {
  if (buffered.size() < 4) return {};
  std::size_t length = (std::size_t{buffered[2]} << 8) | buffered[3];
  // RFC 6614 2.3 + RFC 2865 3: a bad Length means the peer is not speaking RADIUS; close.
  if (length < kHeaderSize || length > kMaxPacketSize) return {Frame::Status::invalid, length};
  if (buffered.size() < length) return {Frame::Status::need_more, length};
  return {Frame::Status::ready, length};
}

}  // namespace mobix::radius
