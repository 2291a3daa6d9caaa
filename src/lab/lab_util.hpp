#pragma once
// Helpers for writing the lab's config files on the first run.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <type_traits>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

namespace mobix::lab {

/// The home network's DNS zones, the end of the `dns:` section that closes the lab's config and the
/// second node's (--nodes 2): both serve the same.
inline constexpr const char* kHomeZones = R"(  zones:
    - {name: home.mobix.test, records: ["ns1 A 127.0.0.1"]}
    - {name: 1.127.in-addr.arpa}
    - {name: 2.127.in-addr.arpa}
    - {name: 3.127.in-addr.arpa}
)";

/// The first port of the kernel's ephemeral range (ip_local_port_range): ports the lab keeps in its
/// config are chosen below it, so a restarted lab never finds one taken by some client's outgoing
/// connection (an ephemeral port is free when the config is written, not necessarily when it is reused).
inline std::uint16_t ephemeral_low() {
  unsigned low = 32768, high = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
  return static_cast<std::uint16_t>(std::clamp(low, 20001u, 65535u));
}

/// Whether `port` can be bound right now on every address (TCP and/or UDP).
inline bool port_free(std::uint16_t port, bool tcp, bool udp) {
  namespace ip = boost::asio::ip;
  boost::asio::io_context io;
  boost::system::error_code ec;
  if (tcp) {
    ip::tcp::socket t(io);
    t.open(ip::tcp::v4(), ec);
    if (!ec) t.bind(ip::tcp::endpoint(ip::address_v4::any(), port), ec);
    if (ec) return false;
  }
  if (udp) {
    ip::udp::socket u(io);
    u.open(ip::udp::v4(), ec);
    if (!ec) u.bind(ip::udp::endpoint(ip::address_v4::any(), port), ec);
    if (ec) return false;
  }
  return true;
}

/// A loopback port free right now, outside the ephemeral range (kept in the config so the lab
/// resumes on the same ports).
inline std::uint16_t stable_port(bool tcp, bool udp) {
  static std::mutex mutex;
  static std::mt19937 pick{std::random_device{}()};
  static std::set<std::uint16_t> handed_out;  // free now, but already written into a config
  std::lock_guard lock(mutex);
  std::uniform_int_distribution<unsigned> in(20000, ephemeral_low() - 1u);
  for (;;) {
    auto port = static_cast<std::uint16_t>(in(pick));
    if (!handed_out.count(port) && port_free(port, tcp, udp)) {
      handed_out.insert(port);
      return port;
    }
  }
}

template <typename Protocol>
std::uint16_t free_port() {
  constexpr bool is_tcp = std::is_same_v<Protocol, boost::asio::ip::tcp>;
  return stable_port(is_tcp, !is_tcp);
}

/// A loopback port free for both TCP and UDP right now (a DNS server listens on both).
inline std::uint16_t free_dns_port() {
  return stable_port(true, true);
}

inline void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

}  // namespace mobix::lab
