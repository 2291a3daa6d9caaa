#include "smpp/pdu_io.hpp"

#include <array>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace mobix::smpp {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

asio::awaitable<bool> read_exact(asio::ip::tcp::socket& s, std::uint8_t* into, std::size_t n,
                                 std::chrono::seconds timeout) {
  asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
  auto result = co_await (asio::async_read(s, asio::buffer(into, n), kUse) || timer.async_wait(kUse));
  if (result.index() != 0) co_return false;  // the timer won: the read was cancelled
  auto [ec, got] = std::get<0>(result);
  co_return !ec && got == n;
}
}  // namespace

asio::awaitable<ReadResult> read_pdu(asio::ip::tcp::socket& s, std::chrono::seconds timeout) {
  ReadResult r;
  std::array<std::uint8_t, kHeaderSize> header;
  if (!co_await read_exact(s, header.data(), 4, timeout)) {
    r.closed = true;
    co_return r;
  }
  auto len = frame_length(std::span(header).first(4));
  if (std::holds_alternative<Error>(len)) {  // cannot find the next PDU: the stream is lost
    r.closed = true;
    r.error = std::get<Error>(len);
    co_return r;
  }
  std::vector<std::uint8_t> pdu(std::get<std::uint32_t>(len));
  std::copy_n(header.begin(), 4, pdu.begin());
  if (!co_await read_exact(s, pdu.data() + 4, pdu.size() - 4, timeout)) {
    r.closed = true;
    co_return r;
  }
  r.sequence = static_cast<std::uint32_t>(pdu[12]) << 24 | static_cast<std::uint32_t>(pdu[13]) << 16 |
               static_cast<std::uint32_t>(pdu[14]) << 8 | pdu[15];
  auto decoded = decode(pdu);
  if (auto* e = std::get_if<Error>(&decoded))
    r.error = *e;
  else
    r.pdu = std::move(std::get<Pdu>(decoded));
  co_return r;
}

asio::awaitable<bool> write_pdu(asio::ip::tcp::socket& s, const Pdu& p) {
  auto wire = encode(p);
  auto [ec, n] = co_await asio::async_write(s, asio::buffer(wire), kUse);
  co_return !ec;
}

}  // namespace mobix::smpp
