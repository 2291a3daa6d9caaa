#pragma once
// How the mail proxies know who is connecting (seed 000 steps 102 and 202): only from the
// access session holding the connection's source IP, and only for the access network's
// configured ranges (`in_ranges`, core/net.hpp).
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/net.hpp"
#include "store/records.hpp"

namespace boost::asio {
class thread_pool;
}

namespace mobix {
class SessionView;
class Directory;
}  // namespace mobix

namespace mobix::mail {

struct Identity {
  SessionRecord session;
  std::optional<Subscriber> subscriber;  ///< missing when the session's subscriber is not in the directory
  bool directory_unavailable = false;    ///< the directory could not be asked: a temporary failure
};
/// nullopt when no live session holds `ip`. A directory whose lookups block (LDAP) is asked on
/// `pool` (the mail role's), so the proxies' event loop never waits on it.
boost::asio::awaitable<std::optional<Identity>> identify(SessionView& sessions, Directory& dir,
                                                         boost::asio::thread_pool& pool,
                                                         const std::string& ip);

}  // namespace mobix::mail
