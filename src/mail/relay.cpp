#include "mail/relay.hpp"

#include <array>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace mobix::mail {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {
asio::awaitable<void> pump(Stream& from, Stream& to, std::chrono::seconds idle, std::uint64_t& bytes) {
  std::array<char, 16384> buf;
  for (;;) {
    from.expires_after(idle);
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kUse);
    if (n > 0) {
      to.expires_after(idle);
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buf.data(), n), kUse);
      bytes += wn;
      if (wec) break;
    }
    if (ec) break;
  }
  boost::system::error_code ignore;
  to.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignore);
}
}  // namespace

asio::awaitable<RelayBytes> relay(Stream& client, Stream& upstream, std::chrono::seconds idle) {
  RelayBytes b;
  co_await (pump(upstream, client, idle, b.down) && pump(client, upstream, idle, b.up));
  co_return b;
}

}  // namespace mobix::mail
