#include "net/conn.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace mobix::net {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}

std::optional<TlsMode> parse_tls_mode(const std::string& s) {
  if (s == "none") return TlsMode::none;
  if (s == "tls") return TlsMode::implicit;
  if (s == "starttls") return TlsMode::starttls;
  return std::nullopt;
}

const char* to_string(TlsMode m) {
  switch (m) {
    case TlsMode::implicit:
      return "tls";
    case TlsMode::starttls:
      return "starttls";
    case TlsMode::none:
      break;
  }
  return "none";
}

// The connection is a Leg: TLS runs on the socket itself (see tunnel_leg.hpp), so after a login
// the proxies splice the two legs without a buffer of their own.
struct Conn::Impl {
  Leg leg;
  explicit Impl(tcp::socket s) : leg(std::move(s)) {}
};

Conn::Conn(tcp::socket accepted) : impl_(std::make_unique<Impl>(std::move(accepted))) {}
Conn::Conn(const asio::any_io_executor& ex) : impl_(std::make_unique<Impl>(tcp::socket(ex))) {}
Conn::~Conn() = default;

bool Conn::secure() const {
  return impl_->leg.tls();
}
tcp::socket& Conn::socket() {
  return impl_->leg.socket();
}
Leg& Conn::leg() {
  return impl_->leg;
}

asio::awaitable<Conn::error_code> Conn::connect(const Endpoint& to, seconds timeout) {
  auto ex = socket().get_executor();
  tcp::resolver resolver(ex);
  auto [rec, results] =
      co_await resolver.async_resolve(to.host, std::to_string(to.port), tcp::resolver::numeric_service, kUse);
  if (rec) co_return rec;
  boost::beast::tcp_stream stream(ex);  // its connect has a deadline
  stream.expires_after(timeout);
  auto [cec, ep] = co_await stream.async_connect(results, kUse);
  if (cec) co_return cec;
  impl_->leg.adopt(stream.release_socket());
  co_return error_code{};
}

asio::awaitable<Conn::error_code> Conn::start_tls(ssl::context& ctx, const std::string& host, seconds timeout,
                                                  std::string& why) {
  const bool ok = co_await impl_->leg.connect_tls(ctx.native_handle(), host, timeout, why);
  if (!ok) co_return make_error_code(asio::ssl::error::unspecified_system_error);
  impl_->leg.tolerate_truncation();  // mail protocols end their own messages
  co_return error_code{};
}

asio::awaitable<Conn::error_code> Conn::accept_tls(ssl::context& ctx, seconds timeout) {
  std::string why;
  const bool ok = co_await impl_->leg.accept_tls(ctx.native_handle(), timeout, why);
  if (!ok) co_return make_error_code(asio::ssl::error::unspecified_system_error);
  impl_->leg.tolerate_truncation();
  co_return error_code{};
}

asio::awaitable<std::pair<Conn::error_code, std::size_t>> Conn::read_some(asio::mutable_buffer b,
                                                                          seconds timeout) {
  std::size_t n = 0;
  // (Each co_await is its own statement: GCC 12 miscompiles one inside a condition or a ternary.)
  const auto io = co_await impl_->leg.read_some(static_cast<char*>(b.data()), b.size(), n, timeout);
  switch (io) {
    case Leg::Io::done:
      co_return std::pair{error_code{}, n};
    case Leg::Io::eof:
      co_return std::pair{error_code(asio::error::eof), std::size_t{0}};
    case Leg::Io::timed_out:
      co_return std::pair{error_code(boost::beast::error::timeout), std::size_t{0}};
    default:
      co_return std::pair{error_code(asio::error::connection_reset), std::size_t{0}};
  }
}

asio::awaitable<Conn::error_code> Conn::write(asio::const_buffer b, seconds timeout) {
  const bool sent = co_await impl_->leg.write_all(static_cast<const char*>(b.data()), b.size(), timeout);
  if (sent) co_return error_code{};
  if (impl_->leg.is_open()) co_return error_code(boost::beast::error::timeout);
  co_return error_code(asio::error::connection_reset);
}

void Conn::shutdown_send() {
  impl_->leg.shutdown_send();  // TLS: our close_notify, then the FIN
}

asio::awaitable<UpstreamOpen> open_upstream(Conn& c, const Endpoint& to, TlsMode mode, ssl::context& ctx,
                                            std::chrono::seconds timeout, std::string& why) {
  if (auto ec = co_await c.connect(to, timeout)) {
    why = ec.message();
    co_return UpstreamOpen::unreachable;
  }
  if (mode == TlsMode::implicit) {
    if (co_await c.start_tls(ctx, to.host, timeout, why)) co_return UpstreamOpen::tls_failed;
  }
  co_return UpstreamOpen::ok;
}

void Conn::close() {
  impl_->leg.close();
}

asio::awaitable<bool> read_at_least(Conn& c, std::string& buf, std::size_t n, std::chrono::seconds timeout) {
  char chunk[4096];
  while (buf.size() < n) {
    auto [ec, got] = co_await c.read_some(asio::buffer(chunk), timeout);
    buf.append(chunk, got);
    if (ec && buf.size() < n) co_return false;
  }
  co_return true;
}

asio::awaitable<std::optional<std::string>> read_line(Conn& c, std::string& buf, std::size_t max,
                                                      std::chrono::seconds timeout) {
  std::size_t scanned = 0;
  char chunk[4096];
  for (;;) {
    auto pos = buf.find("\r\n", scanned);
    if (pos != std::string::npos && pos + 2 <= max) {
      std::string line = buf.substr(0, pos);
      buf.erase(0, pos + 2);
      co_return line;
    }
    if (buf.size() >= max) co_return std::nullopt;
    scanned = buf.empty() ? 0 : buf.size() - 1;
    // Never read past `max`: a stranger cannot make the buffer grow without bound.
    auto room = std::min(sizeof chunk, max - buf.size());
    auto [ec, got] = co_await c.read_some(asio::buffer(chunk, room), timeout);
    buf.append(chunk, got);
    if (ec && got == 0) co_return std::nullopt;
  }
}

asio::awaitable<bool> read_more(Conn& c, std::string& buf, std::size_t room, std::chrono::seconds timeout) {
  const auto had = buf.size();
  buf.resize(had + room);
  auto [ec, got] = co_await c.read_some(asio::buffer(buf.data() + had, room), timeout);
  buf.resize(had + got);
  co_return got > 0 || !ec;
}

asio::awaitable<bool> write_all(Conn& c, std::string data, std::chrono::seconds timeout) {
  auto ec = co_await c.write(asio::buffer(data), timeout);
  co_return !ec;
}

}  // namespace mobix::net
