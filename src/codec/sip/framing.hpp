#pragma once
// Where one SIP message ends on a stream transport (RFC 3261 18.3): after the empty line that ends
// its headers and Content-Length octets of body. Content-Length is mandatory on a stream; a message
// without one, with a malformed one, or longer than the cap cannot be framed and the connection is
// closed. CRLFs between messages are skipped (7.5); a double CRLF is the keep-alive ping a client
// sends on a connection it keeps open, answered with one CRLF (RFC 5626 3.5.1).
#include <cstddef>
#include <string_view>

namespace mobix::sip {

enum class FrameStatus {
  incomplete,  ///< read more
  message,     ///< `length` octets are one message
  ping,        ///< `length` (4) octets are a CRLFCRLF keep-alive: answer CRLF
  skip,        ///< `length` (2) octets are a CRLF between messages (or a pong): drop them
  too_large,   ///< the headers or the whole message exceed the cap
  bad_length,  ///< no Content-Length, a malformed one, or two that differ
};
const char* to_string(FrameStatus s);

struct Frame {
  FrameStatus status = FrameStatus::incomplete;
  std::size_t length = 0;
};

/// The first frame at the start of `buf`, for messages of at most `max_message` octets.
Frame next_frame(std::string_view buf, std::size_t max_message);

}  // namespace mobix::sip
