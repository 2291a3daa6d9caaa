#include "codec/sip/framing.hpp"

#include <charconv>
#include <optional>

#include <boost/algorithm/string/predicate.hpp>

namespace mobix::sip {

namespace {

constexpr std::string_view kCrlf = "\r\n";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

enum class LengthScan { none, ok, bad };

/// The Content-Length (or its compact form "l", RFC 3261 7.3.3) of a header block, which ends
/// before its final empty line. Folded lines (a leading space) continue the previous header.
LengthScan content_length(std::string_view headers, std::size_t& length) {
  auto found = LengthScan::none;
  while (!headers.empty()) {
    auto end = headers.find(kCrlf);
    auto line = headers.substr(0, end);
    headers.remove_prefix(end == std::string_view::npos ? headers.size() : end + kCrlf.size());
    auto colon = line.find(':');
    if (colon == std::string_view::npos || line.empty() || line.front() == ' ' || line.front() == '\t')
      continue;
    auto name = trim(line.substr(0, colon));
    using boost::algorithm::iequals;
    if (!iequals(name, "content-length") && !iequals(name, "l")) continue;
    auto value = trim(line.substr(colon + 1));
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) return LengthScan::bad;
    if (found == LengthScan::ok && n != length) return LengthScan::bad;
    length = n;
    found = LengthScan::ok;
  }
  return found;
}

}  // namespace

const char* to_string(FrameStatus s) {
  switch (s) {
    case FrameStatus::incomplete:
      return "incomplete";
    case FrameStatus::message:
      return "message";
    case FrameStatus::ping:
      return "ping";
    case FrameStatus::skip:
      return "skip";
    case FrameStatus::too_large:
      return "too_large";
    case FrameStatus::bad_length:
      return "bad_length";
  }
  return "bad_length";
}

Frame next_frame(std::string_view buf, std::size_t max_message) {
  if (buf.starts_with(kCrlf)) {
    if (buf.size() < 4) return buf.size() == 3 && buf[2] != '\r' ? Frame{FrameStatus::skip, 2} : Frame{};
    return buf.substr(2, 2) == kCrlf ? Frame{FrameStatus::ping, 4} : Frame{FrameStatus::skip, 2};
  }
  if (buf.size() == 1 && buf[0] == '\r') return {};
  auto end = buf.find("\r\n\r\n");
  if (end == std::string_view::npos)
    return buf.size() > max_message ? Frame{FrameStatus::too_large, 0} : Frame{};
  auto header_octets = end + 4;
  if (header_octets > max_message) return {FrameStatus::too_large, 0};
  std::size_t body = 0;
  if (content_length(buf.substr(0, end + 2), body) != LengthScan::ok) return {FrameStatus::bad_length, 0};
  if (body > max_message - header_octets) return {FrameStatus::too_large, 0};
  if (buf.size() < header_octets + body) return {};
  return {FrameStatus::message, header_octets + body};
}

}  // namespace mobix::sip
