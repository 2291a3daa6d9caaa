#include "net/http_server.hpp"

#include <cctype>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "pki/pki.hpp"

namespace mobix {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string query_param(const std::string& query, const std::string& key) {
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    auto part = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = part.find('=');
    if (part.substr(0, eq) == key) {
      std::string raw = eq == std::string::npos ? "" : part.substr(eq + 1), out;
      for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+')
          out.push_back(' ');
        else if (raw[i] == '%' && i + 2 < raw.size() &&
                 std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
                 std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
          out.push_back(static_cast<char>(std::stoi(raw.substr(i + 1, 2), nullptr, 16)));
          i += 2;
        } else
          out.push_back(raw[i]);
      }
      return out;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return {};
}

namespace {

HttpRequest to_request(const http::request<http::string_body>& req, const std::string& peer) {
  HttpRequest r;
  r.method = std::string(req.method_string());
  std::string target(req.target());
  auto q = target.find('?');
  r.path = target.substr(0, q);
  r.query = q == std::string::npos ? "" : target.substr(q + 1);
  r.body = req.body();
  r.authorization = std::string(req[http::field::authorization]);
  r.content_type = std::string(req[http::field::content_type]);
  r.host = std::string(req[http::field::host]);
  r.origin = std::string(req[http::field::origin]);
  r.peer = peer;
  return r;
}

/// The client's certificate when it presented one and it was verified (mutual TLS).
HttpRequest::PeerCertificate peer_certificate(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  auto id = pki::identity_of(cert);
  return {id.common_name, id.unit, id.serial};
}

}  // namespace

struct HttpServer::Impl {
  HttpHandler handler;
  HttpServerOptions opts;
  std::unique_ptr<TcpService> service;
  // Kept-alive connections waiting for their next request: stop() cancels those waits, so a
  // draining node does not wait out idle_timeout for clients that keep connections open.
  std::mutex idle_mutex;
  std::unordered_map<std::uint64_t, beast::tcp_stream*> idle;
  std::uint64_t next_idle = 0;

  /// Marks a connection idle for the scope (falsy when the server is already stopping).
  class IdleMark {
   public:
    IdleMark(Impl& impl, beast::tcp_stream& s) : impl_(impl) {
      std::lock_guard lock(impl_.idle_mutex);
      if (impl_.service->stopping()) return;
      id_ = ++impl_.next_idle;
      impl_.idle.emplace(id_, &s);
    }
    ~IdleMark() {
      if (!id_) return;
      std::lock_guard lock(impl_.idle_mutex);
      impl_.idle.erase(id_);
    }
    IdleMark(const IdleMark&) = delete;
    IdleMark& operator=(const IdleMark&) = delete;
    explicit operator bool() const { return id_ != 0; }

   private:
    Impl& impl_;
    std::uint64_t id_ = 0;
  };

  void stop() {
    service->stop();
    std::lock_guard lock(idle_mutex);
    for (auto& [id, stream] : idle) stream->cancel();
  }

  Impl(asio::io_context& io, const Endpoint& listen, HttpHandler h, HttpServerOptions o)
      : handler(std::move(h)), opts(std::move(o)) {
    service = std::make_unique<TcpService>(
        io, opts.name, listen, [this](tcp::socket sock, std::uint64_t) { return session(std::move(sock)); });
  }

  Counter& refused(const char* reason) {
    return metrics().counter("mobix_http_refused_total",
                             "HTTP connections or requests refused, by service and reason",
                             "service=\"" + opts.name + "\",reason=\"" + reason + "\"");
  }

  asio::awaitable<void> session(tcp::socket sock) {
    beast::error_code ec;
    auto ep = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto peer = ep.address().is_v6() && ep.address().to_v6().is_v4_mapped()
                    ? asio::ip::make_address_v4(asio::ip::v4_mapped, ep.address().to_v6()).to_string()
                    : ep.address().to_string();
    if (opts.admit && !opts.admit(peer)) {
      refused("not_admitted").inc();
      co_return;
    }
    try {
      if (!opts.tls) {
        beast::tcp_stream stream(std::move(sock));
        HttpRequest::PeerCertificate none;
        co_await serve(stream, peer, none);
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
        co_return;
      }
      beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), *opts.tls);
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto [hec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                   asio::as_tuple(asio::use_awaitable));
      if (hec) {
        refused("tls_handshake").inc();
        spdlog::debug("{}: TLS handshake with {} failed: {}", opts.name, peer, hec.message());
        co_return;
      }
      auto peer_cert = peer_certificate(stream.native_handle());
      co_await serve(stream, peer, peer_cert);
      // close_notify, and a short wait for the client's (shorter while the node drains).
      beast::get_lowest_layer(stream).expires_after(service->stopping() ? std::chrono::milliseconds(200)
                                                                        : std::chrono::milliseconds(2000));
      co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    } catch (const std::exception& e) {
      spdlog::warn("{}: connection error: {}", opts.name, e.what());
    }
  }

  /// Requests on one connection until the client closes, a deadline passes or a response closes it.
  template <typename Stream>
  asio::awaitable<void> serve(Stream& stream, const std::string& peer,
                              HttpRequest::PeerCertificate peer_cert) {
    beast::flat_buffer buf;
    for (bool first = true;; first = false) {
      // Between requests a kept-alive connection may idle; then the request has read_timeout.
      if (!first && buf.size() == 0) {
        beast::get_lowest_layer(stream).expires_after(opts.idle_timeout);
        IdleMark idle_mark(*this, beast::get_lowest_layer(stream));
        if (!idle_mark) co_return;
        auto [ec, n] =
            co_await stream.async_read_some(buf.prepare(1024), asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        buf.commit(n);
      }
      http::request_parser<http::string_body> parser;
      parser.body_limit(opts.body_limit);
      parser.header_limit(static_cast<std::uint32_t>(opts.header_limit));
      beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
      auto [ec, n] = co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        bool body = ec == http::error::body_limit;
        refused(body ? "body_too_large" : "header_too_large").inc();
        spdlog::info("{}: request from {} refused: {}", opts.name, peer, ec.message());
        // Named, not temporaries, across co_await (GCC 12 destroys such temporaries wrongly).
        HttpResponse refusal{body ? 413 : 431, "text/plain", "", true};
        co_await respond(stream, std::move(refusal), 11, false);
        co_return;
      }
      if (ec) {
        if (ec != http::error::end_of_stream)
          spdlog::info("{}: reading a request from {}: {}", opts.name, peer, ec.message());
        co_return;
      }
      auto& req = parser.get();
      auto request = to_request(req, peer);
      request.peer_cert = peer_cert;
      auto ex = stream.get_executor();
      auto result = co_await call_handler(ex, request);
      if (!result) co_return;
      bool keep = req.keep_alive() && !result->close && !service->stopping();
      unsigned version = req.version();
      bool written = co_await respond(stream, std::move(*result), version, keep);
      if (!written || !keep) co_return;
    }
  }

  asio::awaitable<std::optional<HttpResponse>> call_handler(const asio::any_io_executor& ex,
                                                            const HttpRequest& r) {
    std::optional<HttpResponse> result;
    asio::steady_timer wait(ex, asio::steady_timer::time_point::max());
    try {
      handler(r, [&result, &wait](HttpResponse resp) {
        result = std::move(resp);
        wait.cancel();
      });
    } catch (const std::exception& e) {
      metrics()
          .counter("mobix_http_handler_errors_total", "HTTP requests that failed inside, by service",
                   "service=\"" + opts.name + "\"")
          .inc();
      spdlog::error("{}: {} {} failed: {}", opts.name, r.method, r.path, e.what());
      result = HttpResponse{500, "application/json", "{\"error\":\"internal error\"}"};
    }
    if (!result) co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return result;
  }

  template <typename Stream>
  asio::awaitable<bool> respond(Stream& stream, HttpResponse r, unsigned version, bool keep) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "mobix/" MOBIX_VERSION);
    if (!r.body.empty()) res.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep);
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(opts.read_timeout);
    auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }
};

HttpServer::HttpServer(asio::io_context& io, const Endpoint& listen, HttpHandler handler,
                       HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, listen, std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  impl_->service->start();
}
void HttpServer::stop() {
  impl_->stop();
}
bool HttpServer::drained() const {
  return impl_->service->drained();
}
Endpoint HttpServer::local_endpoint() const {
  return impl_->service->local_endpoint();
}

}  // namespace mobix
