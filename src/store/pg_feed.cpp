// Session changes over LISTEN/NOTIFY (issue 14 item 4). The store's trigger (migration 7) announces
// every committed change on channel mobix_sessions, in commit order, with the writer's
// application_name as its origin. This node's own changes are applied too: a node's table changes
// before its commit, and two nodes' commits for one address may land in either order; replaying the
// committed changes in commit order is what makes every table converge on the store. Notifications
// are a hint: after every (re)connection the handler resyncs.
#include "store/pg_feed.hpp"

#include <poll.h>

#include <chrono>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "store/store.hpp"

namespace mobix::pg {

namespace {

std::string str(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
std::int64_t num(const nlohmann::json& j, const char* k) {
  auto it = j.find(k);
  return it != j.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

SessionRecord session_from(const nlohmann::json& j) {
  SessionRecord r;
  r.sid = str(j, "sid");
  r.context = str(j, "context");
  r.ipv4 = str(j, "ipv4");
  r.ipv6_prefix = str(j, "ipv6_prefix");
  r.msisdn = str(j, "msisdn");
  r.imsi = str(j, "imsi");
  r.username = str(j, "username");
  r.nas = str(j, "nas");
  r.apn = str(j, "apn");
  r.acct_session_id = str(j, "acct_session_id");
  r.hostname = str(j, "hostname");
  r.nas_address = str(j, "nas_address");
  r.subscriber_id = num(j, "subscriber_id");
  r.started = num(j, "started");
  r.last_seen = num(j, "last_seen");
  return r;
}

/// The last reading of pg_notification_queue_usage(), for the gauge (one per process).
std::atomic<double>& queue_usage() {
  static std::atomic<double> usage{0};
  static bool registered = [] {
    metrics().gauge("mobix_store_notification_queue_usage",
                    "PostgreSQL's notification queue in use (0-1); full, NOTIFY and the commits with it fail",
                    [] { return usage.load(); });
    return true;
  }();
  (void)registered;
  return usage;
}

Counter& notifications(const char* op) {
  return metrics().counter("mobix_store_feed_notifications_total",
                           "Session changes announced by the shared store, by kind",
                           fmt::format("op=\"{}\"", op));
}

}  // namespace

SessionFeedThread::SessionFeedThread(Options opts, std::string origin, SessionFeed::Handler handler)
    : opts_(std::move(opts)), origin_(std::move(origin)), handler_(std::move(handler)) {
  queue_usage();
  thread_ = std::thread([this] { run(); });
}

SessionFeedThread::~SessionFeedThread() {
  stop_ = true;
  thread_.join();
}

void SessionFeedThread::run() {
  static const std::vector<Statement> none;
  auto backoff = std::chrono::milliseconds(100);
  auto& resyncs = metrics().counter("mobix_store_feed_resyncs_total",
                                    "Session reloads after the change feed (re)connected");
  while (!stop_) {
    try {
      Connection conn(opts_, none);
      conn.exec("LISTEN mobix_sessions");
      // Listening before the reload: a change committed meanwhile is in both, and applying it twice
      // is harmless.
      resyncs.inc();
      if (handler_.resync) handler_.resync();
      backoff = std::chrono::milliseconds(100);
      listen(conn);
    } catch (const std::exception& e) {
      if (stop_) break;
      spdlog::warn("store: session change feed lost: {}; reconnecting in {} ms", e.what(), backoff.count());
      auto until = std::chrono::steady_clock::now() + backoff;
      while (!stop_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

void SessionFeedThread::listen(Connection& conn) {
  auto next_usage = std::chrono::steady_clock::now();
  while (!stop_) {
    if (std::chrono::steady_clock::now() >= next_usage) {
      auto r = conn.exec("SELECT pg_notification_queue_usage()");
      queue_usage() = std::stod(PQgetvalue(r.get(), 0, 0));
      next_usage = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
    pollfd p{PQsocket(conn.get()), POLLIN, 0};
    if (::poll(&p, 1, 200) < 0) continue;
    if (!PQconsumeInput(conn.get()) || PQstatus(conn.get()) != CONNECTION_OK)
      throw StoreError(std::string("postgresql: ") + PQerrorMessage(conn.get()));
    while (PGnotify* n = PQnotifies(conn.get())) {
      std::string payload = n->extra;
      PQfreemem(n);
      dispatch(payload);
    }
  }
}

void SessionFeedThread::dispatch(const std::string& payload) {
  auto j = nlohmann::json::parse(payload, nullptr, false);
  if (!j.is_object()) return;
  auto op = str(j, "op");
  bool own = str(j, "origin") == origin_;
  if (op == "put" && handler_.put) {
    notifications("put").inc();
    auto it = j.find("session");
    if (it != j.end() && it->is_object()) handler_.put(session_from(*it));
  } else if (op == "end" && handler_.end) {
    notifications("end").inc();
    handler_.end(str(j, "sid"));
  } else if (op == "ended" && !own && handler_.ended) {
    notifications("ended").inc();
    handler_.ended(EndedSession{str(j, "nas"), str(j, "acct_session_id"), num(j, "ended"), 0});
  }
}

}  // namespace mobix::pg
