#pragma once
// An HTTP/1.1 server on Beast (the admin listener, the gateway's HTTPS webhook, the lab's camera):
// one coroutine per connection tracked by a Gate, keep-alive, a deadline on every read, header and
// body limits, optional TLS, and an admission check per client address before any byte is read.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/net.hpp"
#include "net/http.hpp"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace mobix {

struct HttpServerOptions {
  std::string name = "admin";  ///< the service's name in logs and metrics
  std::size_t header_limit = 16 << 10;
  std::size_t body_limit = 1 << 20;
  std::chrono::seconds read_timeout{30};  ///< for each request, from its first byte to its last
  std::chrono::seconds idle_timeout{30};  ///< between requests on a kept-alive connection
  /// Set: HTTPS with this context (handshake within read_timeout).
  std::shared_ptr<boost::asio::ssl::context> tls;
  /// Set: called with the client's address before the handshake; false closes the connection.
  std::function<bool(const std::string& peer)> admit;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Endpoint& listen, HttpHandler handler,
             HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
