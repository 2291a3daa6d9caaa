#include "sim/radius_client.hpp"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <stdexcept>

namespace mobix::sim {

RadiusClient::RadiusClient(Endpoint server, std::string secret, int timeout_ms, int attempts)
    : server_(std::move(server)), secret_(std::move(secret)), timeout_ms_(timeout_ms), attempts_(attempts) {
  bool v6 = server_.host.find(':') != std::string::npos;
  fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket() failed");
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(server_.port);
    inet_pton(AF_INET6, server_.host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(server_.port);
    if (inet_pton(AF_INET, server_.host.c_str(), &a->sin_addr) != 1)
      throw std::runtime_error("bad server address");
    len = sizeof *a;
  }
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw std::runtime_error("connect() failed");
  next_id_ = static_cast<std::uint8_t>(std::random_device{}());
}

RadiusClient::~RadiusClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<radius::Packet> RadiusClient::access(radius::Packet request, const std::string& pap_password) {
  request.code = radius::Code::access_request;
  request.identifier = next_id_++;
  request.authenticator = radius::random_authenticator();
  if (!pap_password.empty())
    request.add(radius::attr::user_password,
                radius::hide_password(pap_password, request.authenticator, secret_));
  if (!request.find(radius::attr::message_authenticator)) request.add_message_authenticator();
  auto raw = radius::encode_access_request(request, secret_);
  radius::Authenticator auth;
  std::copy_n(raw.begin() + 4, 16, auth.begin());
  return exchange(raw, auth, request.identifier);
}

std::optional<radius::Packet> RadiusClient::accounting(radius::Packet request) {
  request.code = radius::Code::accounting_request;
  request.identifier = next_id_++;
  auto raw = radius::encode_accounting_request(request, secret_);
  radius::Authenticator auth;
  std::copy_n(raw.begin() + 4, 16, auth.begin());
  return exchange(raw, auth, request.identifier);
}

std::optional<radius::Packet> RadiusClient::exchange(const std::vector<std::uint8_t>& raw,
                                                     const radius::Authenticator& auth, std::uint8_t id) {
  std::uint8_t buf[radius::kMaxPacketSize];
  for (int attempt = 0; attempt < attempts_; ++attempt) {
    if (::send(fd_, raw.data(), raw.size(), 0) < 0) continue;
    pollfd p{fd_, POLLIN, 0};
    while (::poll(&p, 1, timeout_ms_) > 0) {
      auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::span<const std::uint8_t> reply(buf, static_cast<std::size_t>(n));
      auto decoded = radius::decode(reply);
      if (!decoded || decoded->identifier != id) continue;  // stale reply to an earlier request
      if (!radius::verify_response(reply, auth, secret_))
        throw std::runtime_error("reply failed authenticator check (wrong shared secret?)");
      return *decoded;
    }
  }
  return std::nullopt;
}

}  // namespace mobix::sim
