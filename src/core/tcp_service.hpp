#pragma once
// A TCP listener whose connections each run as a coroutine tracked by a Gate, so stop()
// can drain them (DESIGN.md "Sessions"); one catch-all at the connection boundary.
#include <chrono>
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

/// What an accept loop does after a failed accept. A persistent error (out of descriptors: EMFILE,
/// ENFILE; out of memory) fails every accept at once and would make the loop spin at full CPU, so
/// the loop waits before accepting again: 10 ms, doubling to 1 s while errors continue. Each error
/// is counted (mobix_accept_errors_total{service}) and logged at most once per second.
class AcceptBackoff {
 public:
  explicit AcceptBackoff(std::string service) : service_(std::move(service)) {}
  boost::asio::awaitable<void> after_error(const boost::system::error_code& ec);
  void reset() { delay_ = std::chrono::milliseconds(0); }

 private:
  std::string service_;
  std::chrono::milliseconds delay_{0};
  std::chrono::steady_clock::time_point last_log_{};
};

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
