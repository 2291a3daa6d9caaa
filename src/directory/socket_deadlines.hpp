#pragma once
// A watchdog for blocking client libraries that do not bound every wait themselves. libldap honours
// its timeouts for connect and for results, but not for a TLS handshake with a server that accepted
// the connection and then hangs (ldaps://, or StartTLS): the call spins or waits for ever. A
// deadline armed on the connection's descriptor shuts the socket down when it passes, so the
// blocked call sees the connection fail and returns an error the caller already handles.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>

namespace mobix {

class SocketDeadlines {
 public:
  using Clock = std::chrono::steady_clock;
  SocketDeadlines();
  ~SocketDeadlines();
  SocketDeadlines(const SocketDeadlines&) = delete;
  SocketDeadlines& operator=(const SocketDeadlines&) = delete;

  /// Shuts `fd` down at `deadline` unless disarmed first; returns the token for disarm().
  std::uint64_t arm(int fd, Clock::time_point deadline);
  /// Takes the deadline back (before the descriptor is closed); true when it had already fired.
  bool disarm(std::uint64_t token);

 private:
  struct Armed {
    int fd;
    Clock::time_point deadline;
    bool fired = false;
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::uint64_t, Armed> armed_;
  std::uint64_t next_ = 1;
  bool stopping_ = false;
  std::thread thread_;  ///< last: started once the rest is initialised
};

}  // namespace mobix
