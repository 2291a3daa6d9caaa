#pragma once
// PROXY protocol version 2 header (HAProxy, "The PROXY protocol", section 2.2): tells a server
// behind a proxy the real client address. The relay sends it, per service, as the first bytes
// through the tunnel (seed 001 step I), so the mobile server sees who connected.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mobix::proxyproto {

/// PROXY command over TCP; source = the client, destination = the address it connected to.
/// nullopt when the addresses are not both IPv4 or both IPv6.
std::optional<std::vector<std::uint8_t>> encode_v2(const std::string& src_ip, std::uint16_t src_port,
                                                   const std::string& dst_ip, std::uint16_t dst_port);

}  // namespace mobix::proxyproto
