#pragma once
// A blocking RADIUS client (the GGSN/NAS side) used by `mobix sim` and the benchmarks.
// Retransmits with the same Identifier and authenticator, as RFC 5080 2.2.1 requires.
#include <optional>
#include <string>

#include "codec/radius/radius.hpp"
#include "core/net.hpp"

namespace mobix::sim {

class RadiusClient {
 public:
  RadiusClient(Endpoint server, std::string secret, int timeout_ms = 1000, int attempts = 3);
  ~RadiusClient();
  RadiusClient(const RadiusClient&) = delete;
  RadiusClient& operator=(const RadiusClient&) = delete;

  /// Sends an Access-Request (Message-Authenticator added) and returns the verified reply,
  /// or nullopt after the last attempt timed out. Throws on a forged/invalid reply.
  /// `pap_password`, when given, is sent hidden as User-Password (RFC 2865 5.2).
  std::optional<radius::Packet> access(radius::Packet request, const std::string& pap_password = {});
  std::optional<radius::Packet> accounting(radius::Packet request);

 private:
  std::optional<radius::Packet> exchange(const std::vector<std::uint8_t>& raw,
                                         const radius::Authenticator& auth, std::uint8_t id);
  Endpoint server_;
  std::string secret_;
  int timeout_ms_;
  int attempts_;
  int fd_ = -1;
  std::uint8_t next_id_;
};

}  // namespace mobix::sim
