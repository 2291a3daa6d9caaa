#include "net/conn_relay.hpp"

#include <array>
#include <memory>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace mobix::net {

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

asio::awaitable<RelayBytes> relay(Conn& client, Conn& upstream, std::chrono::seconds idle,
                                  std::chrono::seconds total) {
  RelayBytes b;
  // The deadline closes both legs, which ends both pumps. `live` keeps a completion that was
  // already queued when the relay ended from touching the connections.
  auto live = std::make_shared<bool>(true);
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer deadline(co_await asio::this_coro::executor, total);
  deadline.async_wait([live, timed_out, &client, &upstream](boost::system::error_code ec) {
    if (ec || !*live) return;
    *timed_out = true;
    client.close();
    upstream.close();
  });
  co_await (pump(upstream, client, idle, b.down) && pump(client, upstream, idle, b.up));
  *live = false;
  deadline.cancel();
  b.timed_out = *timed_out;
  co_return b;
}

}  // namespace mobix::net
