#pragma once
// A TCP listener whose connections each run as a coroutine tracked by a Gate, so stop()
// can drain them (DESIGN.md "Sessions"); one catch-all at the connection boundary.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

/// How many connections one listener holds at once, in all and from one client address. Over
/// either cap a new connection is closed at once (mobix_tcp_refused_total{service,reason}), so a
/// stranger cannot exhaust descriptors or memory, and other addresses keep being served.
struct ConnectionLimits {
  std::uint32_t per_listener = 10000;
  std::uint32_t per_address = 256;
};
/// The limits listeners get unless they are given their own: set once at start from the config's
/// `limits` section (Node), before any listener starts.
ConnectionLimits& default_connection_limits();

class TcpService {
 public:
  using Handler = std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket, std::uint64_t id)>;
  /// A connection's place under the caps and in the drain: held by the connection's coroutine, and
  /// released when the last holder lets go.
  using Slot = std::shared_ptr<void>;
  /// A handler that may hand its socket to something outliving its coroutine (a tunnel stream)
  /// hands the slot along with it: the connection still counts until that ends, without the
  /// coroutine's frames staying alive for it (issue 17: memory per idle tunnel).
  using SlotHandler =
      std::function<boost::asio::awaitable<void>(boost::asio::ip::tcp::socket, std::uint64_t id, Slot slot)>;
  /// `name` labels the metrics and logs ("admin", "pop3", "smtp", "imap").
  TcpService(boost::asio::io_context& io, std::string name, Endpoint listen, Handler handler,
             std::optional<ConnectionLimits> limits = std::nullopt);
  TcpService(boost::asio::io_context& io, std::string name, Endpoint listen, SlotHandler handler,
             std::optional<ConnectionLimits> limits = std::nullopt);
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
