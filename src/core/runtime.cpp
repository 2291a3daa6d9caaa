#include "core/runtime.hpp"

#include <memory>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

namespace mobix {

void Runtime::run(std::chrono::milliseconds grace) {
  grace_ = grace;
  boost::asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: draining connections and flushing the store", sig);
    do_stop();
  });
  stop_hooks_.insert(stop_hooks_.begin(), [&signals] { signals.cancel(); });
  io_.run();
  stop_hooks_.erase(stop_hooks_.begin());
}

void Runtime::request_stop() {
  boost::asio::post(io_, [this] { do_stop(); });
}

void Runtime::do_stop() {
  if (stopping_) return;
  stopping_ = true;
  for (auto it = stop_hooks_.rbegin(); it != stop_hooks_.rend(); ++it) (*it)();
  poll_drained(std::chrono::steady_clock::now() + grace_);
}

void Runtime::poll_drained(std::chrono::steady_clock::time_point deadline) {
  std::string busy;
  for (auto& check : drain_checks_)
    if (!check.drained()) busy += (busy.empty() ? "" : ", ") + check.name;
  if (busy.empty()) {
    io_.stop();
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline) {
    spdlog::warn("shutdown grace period over; stopping with work still in flight ({})", busy);
    io_.stop();
    return;
  }
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(20));
  timer->async_wait([this, timer, deadline](const boost::system::error_code&) { poll_drained(deadline); });
}

}  // namespace mobix
