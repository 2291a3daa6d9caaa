#pragma once
// How the mail proxies know who is connecting (seed 000 steps 102 and 202): only from the
// access session holding the connection's source IP, and only for the access network's
// configured ranges. Plus a per-IP limit on failed attempts.
#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/net.hpp"
#include "store/records.hpp"

namespace mobix {
class SessionTable;
class Directory;
}  // namespace mobix

namespace mobix::mail {

bool in_ranges(const std::vector<Cidr>& ranges, const boost::asio::ip::address& a);

struct Identity {
  SessionRecord session;
  std::optional<Subscriber> subscriber;  ///< missing when the session's subscriber is not in the directory
  bool directory_unavailable = false;    ///< the directory could not be asked: a temporary failure
};
/// nullopt when no live session holds `ip`. A directory whose lookups block (LDAP) is asked on
/// a small thread pool, so the proxies' event loop never waits on it.
boost::asio::awaitable<std::optional<Identity>> identify(SessionTable& sessions, Directory& dir,
                                                         const std::string& ip);

/// Counts failures per client IP in a one-minute window.
class FailureLimiter {
 public:
  explicit FailureLimiter(unsigned per_minute) : per_minute_(per_minute) {}
  bool blocked(const std::string& ip);
  void record(const std::string& ip);

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    unsigned count = 0;
  };
  unsigned per_minute_;
  std::unordered_map<std::string, Window> windows_;
};

}  // namespace mobix::mail
