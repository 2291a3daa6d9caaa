#include "admin/http_server.hpp"

#include <cctype>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "core/metrics.hpp"
#include "core/tcp_service.hpp"

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

struct HttpServer::Impl {
  HttpHandler handler;
  std::unique_ptr<TcpService> service;

  Impl(asio::io_context& io, const Endpoint& listen, HttpHandler h) : handler(std::move(h)) {
    service = std::make_unique<TcpService>(
        io, "admin", listen, [this](tcp::socket sock, std::uint64_t) { return session(std::move(sock)); });
  }

  asio::awaitable<void> session(tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    beast::flat_buffer buf;
    try {
      for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(1 << 20);
        parser.header_limit(16 << 10);
        stream.expires_after(std::chrono::seconds(30));
        auto [ec, n] = co_await http::async_read(stream, buf, parser, asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        auto& req = parser.get();
        HttpRequest r;
        r.method = std::string(req.method_string());
        std::string target(req.target());
        auto q = target.find('?');
        r.path = target.substr(0, q);
        r.query = q == std::string::npos ? "" : target.substr(q + 1);
        r.body = req.body();
        r.authorization = std::string(req[http::field::authorization]);

        std::optional<HttpResponse> result;
        asio::steady_timer wait(stream.get_executor(), asio::steady_timer::time_point::max());
        try {
          handler(r, [&result, &wait](HttpResponse resp) {
            result = std::move(resp);
            wait.cancel();
          });
        } catch (const std::exception& e) {
          metrics().counter("mobix_admin_errors_total", "Admin API requests that failed inside").inc();
          spdlog::error("admin: {} {} failed: {}", r.method, r.path, e.what());
          result = HttpResponse{500, "application/json", "{\"error\":\"internal error\"}"};
        }
        if (!result) co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        if (!result) break;
        http::response<http::string_body> res{static_cast<http::status>(result->status), req.version()};
        res.set(http::field::server, "mobix/" MOBIX_VERSION);
        res.set(http::field::content_type, result->content_type);
        res.keep_alive(req.keep_alive());
        res.body() = std::move(result->body);
        res.prepare_payload();
        auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
        if (wec || !res.keep_alive() || service->stopping()) break;
      }
    } catch (const std::exception& e) {
      spdlog::warn("admin: connection error: {}", e.what());
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
};

HttpServer::HttpServer(asio::io_context& io, const Endpoint& listen, HttpHandler handler)
    : impl_(std::make_shared<Impl>(io, listen, std::move(handler))) {}

HttpServer::~HttpServer() = default;

void HttpServer::start() {
  impl_->service->start();
}
void HttpServer::stop() {
  impl_->service->stop();
}
bool HttpServer::drained() const {
  return impl_->service->drained();
}
Endpoint HttpServer::local_endpoint() const {
  return impl_->service->local_endpoint();
}

}  // namespace mobix
