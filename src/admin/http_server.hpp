#pragma once
// The admin listener: HTTP/1.1 on Beast, one coroutine per connection, tracked by a Gate.
#include <memory>

#include "admin/http.hpp"
#include "core/net.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const Endpoint& listen, HttpHandler handler);
  ~HttpServer();
  /// Binds (throws on failure) and starts accepting.
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
