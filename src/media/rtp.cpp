#include "media/rtp.hpp"

namespace mobix::media {

namespace {

std::uint32_t be(std::string_view p, std::size_t at, std::size_t n) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v << 8 | static_cast<std::uint8_t>(p[at + i]);
  return v;
}

void put(std::string& out, std::uint32_t v, std::size_t n) {
  for (std::size_t i = n; i-- > 0;) out.push_back(static_cast<char>(v >> (8 * i) & 0xff));
}

}  // namespace

std::string build_rtp(const RtpHeader& h, std::string_view payload) {
  std::string out;
  out.reserve(12 + payload.size());
  out.push_back(static_cast<char>(0x80));  // V=2, no padding, no extension, no CSRC
  out.push_back(static_cast<char>((h.marker ? 0x80 : 0) | (h.payload_type & 0x7f)));
  put(out, h.sequence, 2);
  put(out, h.timestamp, 4);
  put(out, h.ssrc, 4);
  out.append(payload);
  return out;
}

std::optional<RtpPacket> parse_rtp(std::string_view p) {
  if (p.size() < 12 || (static_cast<std::uint8_t>(p[0]) >> 6) != 2) return std::nullopt;
  auto first = static_cast<std::uint8_t>(p[0]);
  std::size_t at = 12 + 4 * std::size_t(first & 0x0f);
  if (first & 0x10) {  // header extension: 16-bit profile, 16-bit length in words
    if (p.size() < at + 4) return std::nullopt;
    at += 4 + 4 * std::size_t(be(p, at + 2, 2));
  }
  std::size_t end = p.size();
  if (first & 0x20) {  // padding: the last octet counts it, itself included
    auto pad = static_cast<std::uint8_t>(p.back());
    if (pad == 0 || pad > end) return std::nullopt;
    end -= pad;
  }
  if (at > end) return std::nullopt;
  RtpPacket out;
  out.header.marker = static_cast<std::uint8_t>(p[1]) & 0x80;
  out.header.payload_type = static_cast<std::uint8_t>(p[1]) & 0x7f;
  out.header.sequence = static_cast<std::uint16_t>(be(p, 2, 2));
  out.header.timestamp = be(p, 4, 4);
  out.header.ssrc = be(p, 8, 4);
  out.payload = p.substr(at, end - at);
  return out;
}

}  // namespace mobix::media
