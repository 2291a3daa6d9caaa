#pragma once
// After the proxy has logged in on the subscriber's behalf, the stream is relayed unmodified
// in both directions (seed 000 steps 105-106); EOF on one side half-closes the other. A
// session ends after `idle` without traffic in a direction, or after `total` in any case.
#include <chrono>
#include <cstdint>

#include <boost/asio/awaitable.hpp>

#include "net/conn.hpp"

namespace mobix::net {

struct RelayBytes {
  std::uint64_t down = 0;  ///< upstream -> client
  std::uint64_t up = 0;    ///< client -> upstream
  bool timed_out = false;  ///< ended by the total session time limit
};

boost::asio::awaitable<RelayBytes> relay(Conn& client, Conn& upstream, std::chrono::seconds idle,
                                         std::chrono::seconds total);

}  // namespace mobix::net
