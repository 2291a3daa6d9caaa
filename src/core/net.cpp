#include "core/net.hpp"

#include <cctype>
#include <charconv>
#include <stdexcept>

namespace mobix {

namespace ip = boost::asio::ip;

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

namespace {
// RFC 1123 2.1 host name: letters, digits, '-' and '.', not empty, at most 253 octets.
bool dns_name(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '.' || h.front() == '-') return false;
  for (char c : h)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  return true;
}
}  // namespace

void throw_listen_error(std::string_view listener, const Endpoint& at, const boost::system::error_code& ec) {
  throw std::runtime_error(std::string(listener) + ": cannot listen on " + at.str() + ": " + ec.message());
}

std::optional<Endpoint> parse_endpoint(std::string_view s) {
  return parse_endpoint(s, false);
}

std::optional<Endpoint> parse_endpoint(std::string_view s, bool allow_names) {
  Endpoint ep;
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (!host.empty()) {
    boost::system::error_code ec;
    ip::make_address(std::string(host), ec);
    if (ec && !(allow_names && dns_name(host))) return std::nullopt;
    ep.host = std::string(host);
  }
  unsigned p = 0;
  auto [ptr, err] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (err != std::errc() || ptr != port.data() + port.size() || p > 65535) return std::nullopt;
  ep.port = static_cast<std::uint16_t>(p);
  return ep;
}

ip::address canonical(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}

ip::address mask_address(const ip::address& a, unsigned prefix) {
  if (a.is_v4()) {
    auto bits = a.to_v4().to_uint();
    std::uint32_t mask = prefix == 0 ? 0 : (prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1));
    return ip::address_v4(bits & mask);
  }
  auto bytes = a.to_v6().to_bytes();
  for (unsigned i = 0; i < 16; ++i) {
    unsigned keep = prefix > i * 8 ? std::min(8u, prefix - i * 8) : 0;
    bytes[i] &= static_cast<unsigned char>(keep == 8 ? 0xff : (0xff << (8 - keep)) & 0xff);
  }
  return ip::address_v6(bytes);
}

std::optional<Cidr> Cidr::parse(std::string_view s) {
  auto slash = s.find('/');
  boost::system::error_code ec;
  auto addr = ip::make_address(std::string(s.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  unsigned max = addr.is_v4() ? 32 : 128;
  unsigned prefix = max;
  if (slash != std::string_view::npos) {
    auto p = s.substr(slash + 1);
    auto [ptr, err] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (err != std::errc() || ptr != p.data() + p.size() || prefix > max) return std::nullopt;
  }
  return Cidr{mask_address(addr, prefix), prefix};
}

bool Cidr::contains(const ip::address& a0) const {
  auto a = canonical(a0);
  if (a.is_v4() != network.is_v4()) return false;
  return mask_address(a, prefix) == network;
}

std::string Cidr::str() const {
  return network.to_string() + "/" + std::to_string(prefix);
}

bool in_ranges(const std::vector<Cidr>& ranges, const boost::asio::ip::address& a) {
  for (const auto& r : ranges)
    if (r.contains(a)) return true;
  return false;
}

}  // namespace mobix
