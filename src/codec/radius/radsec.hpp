#pragma once
// RADIUS over TLS framing (RFC 6614 section 2.3): packets follow each other on the stream
// with no extra framing; each packet's own Length field (RFC 2865 section 3) delimits it.
// Pure: bytes in, a frame boundary or an error out.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace mobix::radius {

/// RFC 6614 2.3: the shared secret on a RadSec connection is the fixed string "radsec".
inline constexpr std::string_view kRadsecSecret = "radsec";

struct Frame {
  enum class Status {
    need_more,  ///< fewer octets than the header or the packet needs
    ready,      ///< the first `length` octets are one packet
    invalid,    ///< Length below 20 or above 4096: the stream cannot be resynchronised
  } status = Status::need_more;
  std::size_t length = 0;
};

/// Looks at the start of `buffered` (what has been read from the stream so far).
Frame next_frame(std::span<const std::uint8_t> buffered);

}  // namespace mobix::radius
