#include "codec/proxyproto/proxy_v2.hpp"

#include <arpa/inet.h>

namespace mobix::proxyproto {

namespace {
constexpr std::uint8_t kSignature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
}  // namespace

std::optional<std::vector<std::uint8_t>> encode_v2(const std::string& src_ip, std::uint16_t src_port,
                                                   const std::string& dst_ip, std::uint16_t dst_port) {
  std::uint8_t s6[16], d6[16];
  std::vector<std::uint8_t> b(std::begin(kSignature), std::end(kSignature));
  b.push_back(0x21);  // version 2, command PROXY
  if (inet_pton(AF_INET, src_ip.c_str(), s6) == 1 && inet_pton(AF_INET, dst_ip.c_str(), d6) == 1) {
    b.push_back(0x11);  // AF_INET, STREAM
    put16(b, 12);
    b.insert(b.end(), s6, s6 + 4);
    b.insert(b.end(), d6, d6 + 4);
  } else if (inet_pton(AF_INET6, src_ip.c_str(), s6) == 1 && inet_pton(AF_INET6, dst_ip.c_str(), d6) == 1) {
    b.push_back(0x21);  // AF_INET6, STREAM
    put16(b, 36);
    b.insert(b.end(), s6, s6 + 16);
    b.insert(b.end(), d6, d6 + 16);
  } else {
    return std::nullopt;
  }
  put16(b, src_port);
  put16(b, dst_port);
  return b;
}

}  // namespace mobix::proxyproto
