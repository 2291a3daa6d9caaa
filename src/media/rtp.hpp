#pragma once
// The fixed RTP header (RFC 3550 section 5.1), for the packets a represented device's proxy sends
// and checks. No CSRCs or extensions are written; a received header's are skipped.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mobix::media {

struct RtpHeader {
  std::uint8_t payload_type = 0;
  bool marker = false;
  std::uint16_t sequence = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t ssrc = 0;
};

/// Header + payload.
std::string build_rtp(const RtpHeader& h, std::string_view payload);

struct RtpPacket {
  RtpHeader header;
  std::string_view payload;
};
/// Nullopt unless version 2 with a complete header (CSRCs, extension, padding within the packet).
std::optional<RtpPacket> parse_rtp(std::string_view packet);

}  // namespace mobix::media
