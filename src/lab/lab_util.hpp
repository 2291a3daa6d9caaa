#pragma once
// Helpers for writing the lab's config files on the first run.
#include <cstdint>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

namespace mobix::lab {

/// A loopback port free right now (kept in the config so the lab resumes on the same ports).
template <typename Protocol>
std::uint16_t free_port() {
  boost::asio::io_context io;
  typename Protocol::socket s(io, typename Protocol::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return s.local_endpoint().port();
}

inline void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

}  // namespace mobix::lab
