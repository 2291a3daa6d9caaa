#include "admin/http_client.hpp"

#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace mobix {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpResponse http_call(const Endpoint& server, const std::string& method, const std::string& target,
                       const std::string& body, const std::string& token, std::chrono::seconds timeout) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(timeout);
  beast::error_code ec;
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address(server.host), server.port), ec);
  if (ec) throw std::runtime_error("cannot reach the admin API at " + server.str() + ": " + ec.message());
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, server.host);
  req.set(http::field::user_agent, "mobix-admin/" MOBIX_VERSION);
  if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) throw std::runtime_error("admin API request failed: " + ec.message());
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res, ec);
  if (ec) throw std::runtime_error("admin API response failed: " + ec.message());
  return HttpResponse{static_cast<int>(res.result_int()), std::string(res[http::field::content_type]),
                      res.body()};
}

}  // namespace mobix
