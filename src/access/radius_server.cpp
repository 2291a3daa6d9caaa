#include "access/radius_server.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "access/radius_server_impl.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace asio = boost::asio;

AccessRole::Impl::Impl(asio::io_context& io_, const AccessConfig& cfg_, Directory& dir_,
                       SessionRepository& repo_, StoreWriter& w, Clock c, const RoamingConfig* roaming_cfg,
                       BoxRepository* boxes)
    : roaming(roaming_cfg),
      io(io_),
      cfg(cfg_),
      dir(dir_),
      repo(repo_),
      writer(w),
      clock(c ? std::move(c) : Clock([] { return static_cast<std::int64_t>(std::time(nullptr)); })),
      service(cfg_, dir_, table, roaming_cfg, boxes),
      auth_sock(io_),
      acct_sock(io_),
      sweep_timer(io_),
      auth_cache(std::chrono::seconds(cfg_.duplicate_cache_seconds)),
      acct_cache(std::chrono::seconds(cfg_.duplicate_cache_seconds)),
      requests_auth(
          metrics().counter("mobix_radius_requests_total", "RADIUS requests received", "listener=\"auth\"")),
      requests_acct(
          metrics().counter("mobix_radius_requests_total", "RADIUS requests received", "listener=\"acct\"")),
      accepts(metrics().counter("mobix_radius_access_accepts_total", "Access-Accepts sent")),
      duplicates(metrics().counter("mobix_radius_duplicates_total",
                                   "Retransmissions answered from the cache (RFC 5080)")) {
  metrics().gauge("mobix_access_sessions", "Live access sessions", [this] { return double(table.size()); });
  if (dir.blocking()) lookup_pool = std::make_unique<asio::thread_pool>(4);
}

AccessRole::AccessRole(asio::io_context& io, const AccessConfig& cfg, Directory& dir, SessionRepository& repo,
                       StoreWriter& writer, Clock clock, const RoamingConfig* roaming, BoxRepository* boxes)
    : impl_(std::make_unique<Impl>(io, cfg, dir, repo, writer, std::move(clock), roaming, boxes)) {}

AccessRole::~AccessRole() = default;

void AccessRole::start() {
  auto& m = *impl_;
  m.table.load(m.repo.load_sessions());
  const std::int64_t memory = m.cfg.ended_session_memory;
  m.table.remember_ends(memory, m.cfg.max_ended_sessions, m.repo.load_ended_sessions(m.clock() - memory));
  m.service.load_leases(m.repo.load_leases(""));
  spdlog::info("access: restored {} sessions from the store", m.table.size());
  m.open(m.auth_sock, m.cfg.auth_listen);
  m.open(m.acct_sock, m.cfg.acct_listen);
  asio::co_spawn(m.io, m.receive_loop(m.auth_sock, false), asio::detached);
  asio::co_spawn(m.io, m.receive_loop(m.acct_sock, true), asio::detached);
  m.schedule_sweep();
  m.follow_other_nodes();
  spdlog::info("access: RADIUS auth on {}, accounting on {}", auth_endpoint().str(), acct_endpoint().str());
  if (m.roaming) {
    roaming::VisitedSide::Forget forget;
    if (m.outbox)  // a delivered record leaves the store with the next group commit
      forget = [&m](const OutboxRecord& r) {
        Change c{Change::Kind::delete_outbox, {}, {}};
        c.outbox = r;
        m.commit(
            {std::move(c)}, [] {},
            [] { spdlog::warn("access: a delivered outbox record stays in the store"); });
      };
    m.visited =
        std::make_unique<roaming::VisitedSide>(m.io, *m.roaming, m.clock, m.node_name, std::move(forget));
    // What the last run could not deliver (seed 002: accounting is never skipped).
    if (m.outbox) {
      auto left = m.outbox->load_outbox(m.node_name);
      if (!left.empty())
        spdlog::info("access: {} accounting record(s) for home networks left by the last run; delivering",
                     left.size());
      m.visited->deliver(std::move(left));
    }
    if (m.roaming->radsec_listen) {
      m.radsec_server = std::make_unique<roaming::RadsecServer>(
          m.io, *m.roaming,
          [&m](const RoamingPartnerConfig& p, roaming::Bytes raw, roaming::RadsecServer::Reply r) {
            m.handle_radsec(p, raw, std::move(r));
          });
      m.radsec_server->start();
    }
  }
}

void AccessRole::stop() {
  auto& m = *impl_;
  // Stop receiving, but keep the sockets open: requests already being committed still
  // get their responses while the runtime drains (the sockets close with the role).
  m.stopping = true;
  m.gate.close();
  boost::system::error_code ec;
  m.auth_sock.cancel(ec);
  m.acct_sock.cancel(ec);
  m.sweep_timer.cancel();
  if (m.radsec_server) m.radsec_server->stop();
  if (m.visited) m.visited->stop();
  m.feed.reset();  // joins the feed's thread; what it posted already still runs
}

void AccessRole::Impl::follow_other_nodes() {
  SessionFeed::Handler h;
  h.put = [this](const SessionRecord& r) {
    asio::post(io, [this, r] { remote_events(table.apply_remote(r)); });
  };
  h.end = [this](const std::string& sid) {
    asio::post(io, [this, sid] { remote_events(table.apply_remote_end(sid)); });
  };
  h.ended = [this](const EndedSession& e) { asio::post(io, [this, e] { table.remember_remote_end(e); }); };
  h.resync = [this] {
    auto records = repo.load_sessions();  // on the feed's thread; throws while the store is down
    asio::post(io, [this, records = std::move(records)] { remote_events(table.resync(records)); });
  };
  feed = repo.follow_sessions(std::move(h));
  if (!feed) return;
  spdlog::info("access: following other nodes' sessions in the shared store");
  if (!cfg.pools.empty()) {
    service.share_pools();
    spdlog::info("access: address pools are shared with the other nodes; the store arbitrates offers");
  }
}

void AccessRole::Impl::remote_events(const std::vector<SessionEvent>& events) {
  log_events(events);
  service.follow_remote(events);
  table.publish(events);
}

void AccessRole::Impl::offers_taken(const std::vector<Lease>& taken) {
  static auto& counter = metrics().counter(
      "mobix_access_pool_offers_taken_total",
      "Address offers the shared store refused because another node's subscriber holds the address");
  counter.inc(taken.size());
  for (const auto& l : taken)
    spdlog::info("access: pool {}: {} is held on another node; offering subscriber {} another address",
                 l.pool, l.ip, l.subscriber_id);
  try {
    service.offers_taken(taken, [this](const std::string& pool) { return repo.load_leases(pool); });
  } catch (const std::exception& e) {
    spdlog::warn("access: cannot reload the pool's leases: {}", e.what());  // the next offer may clash again
  }
}

void AccessRole::keep_roaming_outbox(RoamingOutbox& outbox, std::string node_name) {
  impl_->outbox = &outbox;
  impl_->node_name = std::move(node_name);
}

void AccessRole::share_jobs(JobLeader& jobs) {
  impl_->jobs = &jobs;
  jobs.add(Impl::kExpiryJob);
}

bool AccessRole::drained() const {
  return impl_->gate.active() == 0;
}

Endpoint AccessRole::auth_endpoint() const {
  auto e = impl_->auth_sock.local_endpoint();
  return Endpoint{e.address().to_string(), e.port()};
}

std::optional<Endpoint> AccessRole::radsec_endpoint() const {
  if (!impl_->radsec_server) return std::nullopt;
  return impl_->radsec_server->local_endpoint();
}

Endpoint AccessRole::acct_endpoint() const {
  auto e = impl_->acct_sock.local_endpoint();
  return Endpoint{e.address().to_string(), e.port()};
}

SessionTable& AccessRole::sessions() {
  return impl_->table;
}
AccessService& AccessRole::service() {
  return impl_->service;
}

void AccessRole::listeners(Listeners& out) const {
  out["access.radius_auth"] = {auth_endpoint(), "radius/udp"};
  out["access.radius_acct"] = {acct_endpoint(), "radius-acct/udp"};
  if (auto rs = radsec_endpoint()) out["roaming.radsec"] = {*rs, "radsec/tls"};
}

void AccessRole::purge(const std::string& ip, std::function<void(bool)> done) {
  auto& m = *impl_;
  auto out = m.service.purge_ip(ip, m.clock());
  m.journal(out);
  bool found = !out.events.empty();
  auto events = out.events;
  auto owed = m.owe_home(events, out.changes);
  m.commit(
      std::move(out.changes),
      [&m, events, owed, done, found] {
        m.publish(events, owed);
        done(found);
      },
      [done] { done(false); });
}

}  // namespace mobix
