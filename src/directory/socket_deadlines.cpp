#include "directory/socket_deadlines.hpp"

#include <sys/socket.h>

namespace mobix {

SocketDeadlines::SocketDeadlines() : thread_([this] { run(); }) {}

SocketDeadlines::~SocketDeadlines() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::uint64_t SocketDeadlines::arm(int fd, Clock::time_point deadline) {
  std::lock_guard lock(mu_);
  auto token = next_++;
  armed_[token] = Armed{fd, deadline};
  cv_.notify_all();
  return token;
}

bool SocketDeadlines::disarm(std::uint64_t token) {
  std::lock_guard lock(mu_);
  auto it = armed_.find(token);
  if (it == armed_.end()) return false;
  bool fired = it->second.fired;
  armed_.erase(it);
  return fired;
}

// The descriptor is shut down, not closed: it stays its owner's until disarm() (no reuse race), and
// every read or write on it fails at once from then on.
void SocketDeadlines::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto next = Clock::time_point::max();
    auto now = Clock::now();
    for (auto& [token, a] : armed_) {
      if (a.fired) continue;
      if (a.deadline <= now) {
        ::shutdown(a.fd, SHUT_RDWR);
        a.fired = true;
      } else if (a.deadline < next) {
        next = a.deadline;
      }
    }
    if (next == Clock::time_point::max())
      cv_.wait(lock);
    else
      cv_.wait_until(lock, next);
  }
}

}  // namespace mobix
