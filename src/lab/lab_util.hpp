#pragma once
// Helpers for writing the lab's config files on the first run.
#include <cstdint>
#include <string>

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

/// A loopback port free right now (kept in the config so the lab resumes on the same ports).
template <typename Protocol>
std::uint16_t free_port() {
  boost::asio::io_context io;
  typename Protocol::socket s(io, typename Protocol::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return s.local_endpoint().port();
}

/// A loopback port free for both TCP and UDP right now (a DNS server listens on both).
inline std::uint16_t free_dns_port() {
  namespace ip = boost::asio::ip;
  for (;;) {
    boost::asio::io_context io;
    ip::tcp::socket t(io, ip::tcp::endpoint(ip::make_address("127.0.0.1"), 0));
    ip::udp::socket u(io, ip::udp::v4());
    boost::system::error_code ec;
    u.bind(ip::udp::endpoint(ip::make_address("127.0.0.1"), t.local_endpoint().port()), ec);
    if (!ec) return t.local_endpoint().port();
  }
}

inline void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

}  // namespace mobix::lab
