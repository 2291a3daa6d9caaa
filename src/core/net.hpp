#pragma once
// Address helpers: "host:port" endpoints and CIDR networks (IPv4 and IPv6).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/system/error_code.hpp>

namespace mobix {

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string str() const;
};

/// Throws the error of a listener that could not bind, naming it and its address ("pop3: cannot
/// listen on 127.0.0.2:26110: Address already in use"): an operator sees which setting to change.
[[noreturn]] void throw_listen_error(std::string_view listener, const Endpoint& at,
                                     const boost::system::error_code& ec);

/// Parses "127.0.0.1:1812", "[::1]:1812" or ":1812" (host defaults to 127.0.0.1).
std::optional<Endpoint> parse_endpoint(std::string_view s);
/// Same, and with `allow_names` the host may also be a DNS name ("mail.example.net:993").
std::optional<Endpoint> parse_endpoint(std::string_view s, bool allow_names);

struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix = 0;

  /// "10.0.0.0/8", "2001:db8::/32" or a bare address (host route).
  static std::optional<Cidr> parse(std::string_view s);
  bool contains(const boost::asio::ip::address& a) const;
  std::string str() const;
};

/// True when one of `ranges` contains `a` (the access network's configured ranges).
bool in_ranges(const std::vector<Cidr>& ranges, const boost::asio::ip::address& a);

/// The address with every bit past `prefix` cleared (IPv4 or IPv6).
boost::asio::ip::address mask_address(const boost::asio::ip::address& a, unsigned prefix);

/// Maps IPv4-mapped IPv6 (::ffff:a.b.c.d) to plain IPv4 so lookups see one form.
boost::asio::ip::address canonical(const boost::asio::ip::address& a);

}  // namespace mobix
