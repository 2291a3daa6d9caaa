#pragma once
// A TCP listener whose connections each run as a coroutine tracked by a Gate, so stop()
// can drain them (DESIGN.md "Sessions"); one catch-all at the connection boundary.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/net.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class TcpService {
 public:
  using Handler = std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket, std::uint64_t id)>;
  /// `name` labels the metrics and logs ("admin", "pop3", "smtp", "imap").
  TcpService(boost::asio::io_context& io, std::string name, Endpoint listen, Handler handler);
  ~TcpService();
  void start();
  void stop();
  bool drained() const;
  /// True once stop() was called: keep-alive sessions should finish their current request.
  bool stopping() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
