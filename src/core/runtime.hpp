#pragma once
// The event loop every role runs on: one Asio io_context driving C++20 coroutines,
// a Gate per listener so stop() can wait for in-flight work, and SIGTERM/SIGINT handling.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

namespace mobix {

/// Tracks in-flight sessions/requests. Closed gates refuse new entries.
class Gate {
 public:
  class Pass {
   public:
    explicit Pass(Gate* g) : g_(g) {}
    Pass(Pass&& o) noexcept : g_(o.g_) { o.g_ = nullptr; }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;
    ~Pass() {
      if (g_) g_->active_.fetch_sub(1);
    }
    explicit operator bool() const { return g_ != nullptr; }

   private:
    Gate* g_;
  };
  Pass enter() {
    if (closed_.load()) return Pass(nullptr);
    active_.fetch_add(1);
    return Pass(this);
  }
  void close() { closed_.store(true); }
  bool closed() const { return closed_.load(); }
  std::size_t active() const { return active_.load(); }

 private:
  std::atomic<bool> closed_{false};
  std::atomic<std::size_t> active_{0};
};

/// Runs `io` until SIGTERM/SIGINT; then calls every stop hook (in reverse order of
/// registration), lets in-flight work finish for up to `grace`, and returns.
class Runtime {
 public:
  explicit Runtime(boost::asio::io_context& io) : io_(io) {}
  void on_stop(std::function<void()> hook) { stop_hooks_.push_back(std::move(hook)); }
  /// After stop, run() returns once every drain check is true (or the grace period ends).
  /// `name` is what the warning names when the grace period ends before this check is true.
  void add_drain_check(std::string name, std::function<bool()> drained) {
    drain_checks_.push_back({std::move(name), std::move(drained)});
  }
  void run(std::chrono::milliseconds grace = std::chrono::seconds(5));
  /// Requests the same shutdown a signal would (used by tests and `lab`).
  void request_stop();

 private:
  void do_stop();
  void poll_drained(std::chrono::steady_clock::time_point deadline);
  struct DrainCheck {
    std::string name;
    std::function<bool()> drained;
  };
  std::vector<DrainCheck> drain_checks_;
  boost::asio::io_context& io_;
  std::vector<std::function<void()>> stop_hooks_;
  bool stopping_ = false;
  std::chrono::milliseconds grace_{5000};
};

}  // namespace mobix
