#include "net/conn.hpp"

#include <stdexcept>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
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

struct Conn::Impl {
  boost::beast::tcp_stream tcp;
  std::unique_ptr<ssl::stream<boost::beast::tcp_stream&>> tls;
  explicit Impl(tcp::socket s) : tcp(std::move(s)) {}
  explicit Impl(const asio::any_io_executor& ex) : tcp(ex) {}
};

Conn::Conn(tcp::socket accepted) : impl_(std::make_unique<Impl>(std::move(accepted))) {
  // Request/response protocols: Nagle plus delayed ACKs would stall small writes by ~40 ms.
  error_code ignore;
  impl_->tcp.socket().set_option(tcp::no_delay(true), ignore);
}
Conn::Conn(const asio::any_io_executor& ex) : impl_(std::make_unique<Impl>(ex)) {}
Conn::~Conn() = default;

bool Conn::secure() const {
  return impl_->tls != nullptr;
}
tcp::socket& Conn::socket() {
  return impl_->tcp.socket();
}

asio::awaitable<Conn::error_code> Conn::connect(const Endpoint& to, seconds timeout) {
  tcp::resolver resolver(impl_->tcp.get_executor());
  auto [rec, results] =
      co_await resolver.async_resolve(to.host, std::to_string(to.port), tcp::resolver::numeric_service, kUse);
  if (rec) co_return rec;
  impl_->tcp.expires_after(timeout);
  auto [cec, ep] = co_await impl_->tcp.async_connect(results, kUse);
  if (!cec) {
    error_code ignore;
    impl_->tcp.socket().set_option(tcp::no_delay(true), ignore);
  }
  co_return cec;
}

asio::awaitable<Conn::error_code> Conn::start_tls(ssl::context& ctx, const std::string& host, seconds timeout,
                                                  std::string& why) {
  impl_->tls = std::make_unique<ssl::stream<boost::beast::tcp_stream&>>(impl_->tcp, ctx);
  SSL* ssl_handle = impl_->tls->native_handle();
  boost::system::error_code addr_ec;
  asio::ip::make_address(host, addr_ec);
  if (addr_ec) SSL_set_tlsext_host_name(ssl_handle, host.c_str());  // SNI is for names only (RFC 6066 3)
  // Checks the DNS name or the IP address against the certificate (RFC 6125).
  impl_->tls->set_verify_callback(ssl::host_name_verification(host));
  impl_->tcp.expires_after(timeout);
  auto [ec] = co_await impl_->tls->async_handshake(ssl::stream_base::client, kUse);
  if (ec) {
    long verify = SSL_get_verify_result(ssl_handle);
    why = verify != X509_V_OK
              ? std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify)
              : ec.message();
  }
  co_return ec;
}

asio::awaitable<Conn::error_code> Conn::accept_tls(ssl::context& ctx, seconds timeout) {
  impl_->tls = std::make_unique<ssl::stream<boost::beast::tcp_stream&>>(impl_->tcp, ctx);
  impl_->tcp.expires_after(timeout);
  auto [ec] = co_await impl_->tls->async_handshake(ssl::stream_base::server, kUse);
  co_return ec;
}

asio::awaitable<std::pair<Conn::error_code, std::size_t>> Conn::read_some(asio::mutable_buffer b,
                                                                          seconds timeout) {
  impl_->tcp.expires_after(timeout);
  if (impl_->tls) {
    auto [ec, n] = co_await impl_->tls->async_read_some(b, kUse);
    co_return std::pair{ec, n};
  }
  auto [ec, n] = co_await impl_->tcp.async_read_some(b, kUse);
  co_return std::pair{ec, n};
}

asio::awaitable<Conn::error_code> Conn::write(asio::const_buffer b, seconds timeout) {
  impl_->tcp.expires_after(timeout);
  if (impl_->tls) {
    auto [ec, n] = co_await asio::async_write(*impl_->tls, b, kUse);
    co_return ec;
  }
  auto [ec, n] = co_await asio::async_write(impl_->tcp, b, kUse);
  co_return ec;
}

void Conn::shutdown_send() {
  error_code ignore;
  impl_->tcp.socket().shutdown(impl_->tls ? tcp::socket::shutdown_both : tcp::socket::shutdown_send, ignore);
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
  error_code ignore;
  impl_->tcp.socket().close(ignore);
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

asio::awaitable<bool> write_all(Conn& c, std::string data, std::chrono::seconds timeout) {
  auto ec = co_await c.write(asio::buffer(data), timeout);
  co_return !ec;
}

}  // namespace mobix::net
