#include "mail/relay.hpp"

#include <array>

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace mobix::mail {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
asio::awaitable<void> pump(Conn& from, Conn& to, std::chrono::seconds idle, std::uint64_t& bytes) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await from.read_some(asio::buffer(buf), idle);
    if (n > 0) {
      if (co_await to.write(asio::buffer(buf.data(), n), idle)) break;
      bytes += n;
    }
    if (ec) break;
  }
  to.shutdown_send();
}
}  // namespace

asio::awaitable<RelayBytes> relay(Conn& client, Conn& upstream, std::chrono::seconds idle) {
  RelayBytes b;
  co_await (pump(upstream, client, idle, b.down) && pump(client, upstream, idle, b.up));
  co_return b;
}

}  // namespace mobix::mail
