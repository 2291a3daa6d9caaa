#pragma once
// The PostgreSQL SessionFeed: a thread with its own connection that LISTENs on mobix_sessions.
#include <atomic>
#include <string>
#include <thread>

#include "store/pg_connection.hpp"
#include "store/store.hpp"

namespace mobix::pg {

class SessionFeedThread final : public SessionFeed {
 public:
  /// `origin`: the application_name this node's writer uses (its own ended sessions are not
  /// announced back to it: it remembered them when it ended them).
  SessionFeedThread(Options opts, std::string origin, SessionFeed::Handler handler);
  ~SessionFeedThread() override;

 private:
  void run();
  /// Until the connection fails (throws) or the feed stops.
  void listen(Connection& conn);
  void dispatch(const std::string& payload);

  Options opts_;
  std::string origin_;
  SessionFeed::Handler handler_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace mobix::pg
