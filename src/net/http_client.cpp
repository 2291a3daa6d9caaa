#include "net/http_client.hpp"

#include <openssl/ssl.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace mobix::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
}

struct HttpsConnection::Impl {
  asio::any_io_executor ex;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buf;
};

HttpsConnection::HttpsConnection(const asio::any_io_executor& ex) : impl_(std::make_unique<Impl>()) {
  impl_->ex = ex;
}
HttpsConnection::~HttpsConnection() = default;

asio::awaitable<bool> HttpsConnection::connect(const Endpoint& to, asio::ssl::context& ctx,
                                               std::chrono::seconds timeout, std::string& why) {
  auto& m = *impl_;
  m.stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(m.ex, ctx);
  tcp::resolver resolver(m.ex);
  auto port = std::to_string(to.port);
  auto [rec, results] = co_await resolver.async_resolve(to.host, port, kUse);
  if (rec) {
    why = rec.message();
    co_return false;
  }
  auto& tcp_stream = beast::get_lowest_layer(*m.stream);
  tcp_stream.expires_after(timeout);
  auto [cec, ep] = co_await tcp_stream.async_connect(results, kUse);
  if (cec) {
    why = cec.message();
    co_return false;
  }
  boost::system::error_code ignore;
  tcp_stream.socket().set_option(tcp::no_delay(true), ignore);
  boost::system::error_code addr_ec;
  asio::ip::make_address(to.host, addr_ec);
  if (addr_ec)
    SSL_set_tlsext_host_name(m.stream->native_handle(), to.host.c_str());     // RFC 6066 3: names only
  m.stream->set_verify_callback(asio::ssl::host_name_verification(to.host));  // RFC 6125
  auto [hec] = co_await m.stream->async_handshake(asio::ssl::stream_base::client, kUse);
  if (hec) {
    long verify = SSL_get_verify_result(m.stream->native_handle());
    why = verify != X509_V_OK
              ? std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify)
              : hec.message();
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> HttpsConnection::connect_verified_chain(const Endpoint& to, asio::ssl::context& ctx,
                                                              std::chrono::seconds timeout, std::string& why,
                                                              std::shared_ptr<SSL_SESSION> resume,
                                                              std::string source) {
  auto& m = *impl_;
  m.stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(m.ex, ctx);
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(to.host, ec);
  if (ec) {
    why = "not an address: " + to.host;
    co_return false;
  }
  auto& tcp_stream = beast::get_lowest_layer(*m.stream);
  if (!source.empty()) {
    auto from = asio::ip::make_address(source, ec);
    if (!ec) tcp_stream.socket().open(from.is_v4() ? tcp::v4() : tcp::v6(), ec);
    if (!ec) tcp_stream.socket().bind(tcp::endpoint(from, 0), ec);
    if (ec) {
      why = "cannot connect from " + source + ": " + ec.message();
      co_return false;
    }
  }
  tcp_stream.expires_after(timeout);
  auto [cec] = co_await tcp_stream.async_connect(tcp::endpoint(addr, to.port), kUse);
  if (cec) {
    why = cec.message();
    co_return false;
  }
  boost::system::error_code ignore;
  tcp_stream.socket().set_option(tcp::no_delay(true), ignore);
  if (resume) SSL_set_session(m.stream->native_handle(), resume.get());
  auto [hec] = co_await m.stream->async_handshake(asio::ssl::stream_base::client, kUse);
  if (hec) {
    long verify = SSL_get_verify_result(m.stream->native_handle());
    why = std::string("TLS handshake failed: ") +
          (verify != X509_V_OK
               ? std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify)
               : hec.message());
    co_return false;
  }
  co_return true;
}

X509* HttpsConnection::peer_certificate() const {
  return impl_->stream ? SSL_get0_peer_certificate(impl_->stream->native_handle()) : nullptr;
}

bool HttpsConnection::resumed() const {
  return impl_->stream && SSL_session_reused(impl_->stream->native_handle()) == 1;
}

std::shared_ptr<SSL_SESSION> HttpsConnection::session() const {
  if (!impl_->stream) return nullptr;
  SSL_SESSION* s = SSL_get1_session(impl_->stream->native_handle());
  if (!s || SSL_SESSION_is_resumable(s) != 1) {
    if (s) SSL_SESSION_free(s);
    return nullptr;
  }
  return std::shared_ptr<SSL_SESSION>(s, SSL_SESSION_free);
}

asio::awaitable<HttpsConnection::Response> HttpsConnection::request(
    std::string method, std::string target, std::string host_header, std::string content_type,
    std::string body, std::chrono::seconds timeout, std::size_t body_limit, std::string authorization) {
  auto& m = *impl_;
  Response out;
  if (!m.stream) {
    out.error = "not connected";
    co_return out;
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_header);
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  auto& tcp_stream = beast::get_lowest_layer(*m.stream);
  tcp_stream.expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(*m.stream, req, kUse);
  if (wec) {
    out.error = wec.message();
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  parser.header_limit(16 << 10);
  auto [rec, rn] = co_await http::async_read(*m.stream, m.buf, parser, kUse);
  if (rec) {
    out.error = rec.message();
    co_return out;
  }
  out.status = static_cast<int>(parser.get().result_int());
  out.www_authenticate = std::string(parser.get()[http::field::www_authenticate]);
  out.keep_alive = parser.get().keep_alive();
  out.body = std::move(parser.get().body());
  co_return out;
}

asio::awaitable<void> HttpsConnection::close(std::chrono::seconds timeout) {
  if (!impl_->stream) co_return;
  beast::get_lowest_layer(*impl_->stream).expires_after(timeout);
  co_await impl_->stream->async_shutdown(kUse);
  boost::system::error_code ignore;
  beast::get_lowest_layer(*impl_->stream).socket().close(ignore);
}

asio::awaitable<HttpsConnection::Result> HttpsConnection::post(std::string target, std::string host_header,
                                                               std::string content_type, std::string body,
                                                               std::chrono::seconds timeout) {
  auto& m = *impl_;
  Result out;
  if (!m.stream) {
    out.error = "not connected";
    co_return out;
  }
  http::request<http::string_body> req{http::verb::post, target, 11};
  req.set(http::field::host, host_header);
  req.set(http::field::content_type, content_type);
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  auto& tcp_stream = beast::get_lowest_layer(*m.stream);
  tcp_stream.expires_after(timeout);
  auto [wec, wn] = co_await http::async_write(*m.stream, req, kUse);
  if (wec) {
    out.error = wec.message();
    co_return out;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 10);
  parser.header_limit(16 << 10);
  auto [rec, rn] = co_await http::async_read(*m.stream, m.buf, parser, kUse);
  if (rec) {
    out.error = rec.message();
    co_return out;
  }
  out.status = static_cast<int>(parser.get().result_int());
  out.keep_alive = parser.get().keep_alive() && m.buf.size() == 0;
  co_return out;
}

}  // namespace mobix::net
