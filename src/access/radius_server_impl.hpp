#pragma once
// The access role's insides, shared by its parts (private to src/access):
//   radius_transport.cpp   UDP and RadSec intake, drops, duplicates (RFC 5080), replies, commits
//   radius_auth.cpp        Access-Request -> Accept/Reject (RFC 2865), roamers via their home network
//   radius_accounting.cpp  Accounting-Request -> sessions (RFC 2866), replay checks, publishing
//   radius_server.cpp      the Role: start, stop, listeners, purge
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "access/dedup_cache.hpp"
#include "access/radius_server.hpp"
#include "codec/radius/radius.hpp"
#include "core/metrics.hpp"
#include "core/runtime.hpp"
#include "core/text.hpp"
#include "roaming/home_side.hpp"
#include "roaming/radsec.hpp"
#include "roaming/visited_side.hpp"
#include "store/job_leader.hpp"
#include "store/store.hpp"

namespace mobix {

class SessionRepository;
class StoreWriter;

struct AccessRole::Impl {
  using udp = boost::asio::ip::udp;
  using Bytes = std::vector<std::uint8_t>;

  /// Where a request came from and where its answer goes: a NAS over UDP, or a roaming
  /// partner's visited network over RadSec (then `partner` is set and the secret is "radsec").
  struct Source {
    std::string key;     ///< dedup key prefix
    std::string secret;  ///< never logged
    std::string peer;    ///< for logs
    const RoamingPartnerConfig* partner = nullptr;
    std::function<void(DedupCache::Response)> reply;
  };

  /// What a request's directory lookups found, made off the event loop: nullopt while not made yet;
  /// a value (the subscriber, or nobody) once they were.
  using LookedUp = std::optional<std::optional<Subscriber>>;

  Impl(boost::asio::io_context& io, const AccessConfig& cfg, Directory& dir, SessionRepository& repo,
       StoreWriter& writer, Clock clock, const RoamingConfig* roaming, BoxRepository* boxes);

  const RoamingConfig* roaming;  ///< null: no roaming partners
  boost::asio::io_context& io;
  const AccessConfig& cfg;
  Directory& dir;
  SessionRepository& repo;
  StoreWriter& writer;
  Clock clock;
  SessionTable table;
  AccessService service;
  udp::socket auth_sock;
  udp::socket acct_sock;
  boost::asio::steady_timer sweep_timer;
  Gate gate;
  bool stopping = false;
  DedupCache auth_cache;
  DedupCache acct_cache;
  LogRateLimiter log_limit{5};
  std::unique_ptr<roaming::VisitedSide> visited;  ///< with roaming: roamers' home networks
  RoamingOutbox* outbox = nullptr;                ///< where undelivered accounting survives restarts
  std::string node_name = "mobix";
  std::unique_ptr<roaming::RadsecServer> radsec_server;  ///< home side: partners reach us here
  roaming::HomeSide home;
  std::unique_ptr<SessionFeed> feed;  ///< other nodes' sessions, when the store is shared
  /// The singleton session expiry runs while this node holds kExpiryJob (null: always).
  JobLeader* jobs = nullptr;
  static constexpr const char* kExpiryJob = "access.expiry";

  Counter& requests_auth;
  Counter& requests_acct;
  Counter& accepts;
  Counter& duplicates;
  // Hot-path counters are looked up once, not formatted per request.
  std::unordered_map<std::uint32_t, Counter*> status_counters;
  std::unordered_map<std::string, Counter*> event_counters;

  // radius_transport.cpp
  void open(udp::socket& s, const Endpoint& ep);
  boost::asio::awaitable<void> receive_loop(udp::socket& sock, bool accounting);
  /// A NAS's datagram: known client, room in the store's queue, then auth or accounting.
  void handle_udp(std::span<const std::uint8_t> raw, const udp::endpoint& from, bool accounting);
  void handle_radsec(const RoamingPartnerConfig& partner, const roaming::Bytes& raw,
                     std::function<void(roaming::Bytes)> reply);
  const RadiusClientConfig* client_for(const boost::asio::ip::address& a) const;
  Source udp_source(const RadiusClientConfig& client, const udp::endpoint& from, bool accounting);
  void send(udp::socket& sock, const udp::endpoint& to, DedupCache::Response bytes);
  /// A malformed packet, a wrong secret or an unknown client is dropped without a response,
  /// counted per reason and logged at a limited rate.
  void drop(std::string_view listener, std::string_view reason, const std::string& from);
  static std::string dedup_key(const std::string& prefix, const radius::Packet& p);
  /// RFC 5080 2.2.2: true when `key` was seen before (answered again from the cache, or
  /// still in flight and dropped); otherwise records it as in flight.
  bool is_duplicate(DedupCache& cache, const Source& src, const std::string& key);
  /// Runs `process(key)` unless the request is a duplicate. A request that fails half-way (the
  /// directory unreachable) must not stay "in flight": its key is forgotten, so the NAS's
  /// retransmission is processed again, not dropped as a duplicate.
  template <typename Process>
  void process_once(DedupCache& cache, const Source& src, const radius::Packet& req, Process&& process) {
    auto key = dedup_key(src.key, req);
    if (is_duplicate(cache, src, key)) return;
    try {
      process(key);
    } catch (...) {
      cache.forget(key);
      throw;
    }
  }
  /// What to do when the store refused a pool offer (another node holds the address).
  using OnTaken = std::function<void(std::vector<Lease> taken)>;
  /// Commits `changes`, then runs `then` on the io thread (only if the commit succeeded); a
  /// refused offer runs `on_taken`, or `on_failure` without one.
  void commit(std::vector<Change> changes, std::function<void()> then, std::function<void()> on_failure,
              OnTaken on_taken = {}, std::optional<JobLease> fence = std::nullopt);
  /// With a blocking directory (LDAP): makes `lookups` on the lookup pool and runs `then` with what
  /// they found on the event loop, which meanwhile answers everyone else. The directory down (or
  /// too many requests waiting for it) leaves the request unanswered: counted, logged, and its key
  /// forgotten so the NAS's retransmission is processed again.
  void look_up(std::vector<AccessService::Lookup> lookups, const char* listener, DedupCache& cache,
               const Source& src, const std::string& key, std::function<void(LookedUp)> then);

  // radius_auth.cpp
  void process_auth(std::span<const std::uint8_t> raw, const Source& src);
  void answer_status_server(std::span<const std::uint8_t> raw, const radius::Packet& req, const Source& src);
  /// After the checks and the duplicate cache: the decision and its answer.
  /// `attempt` counts the offers the shared store refused for this request so far.
  void authenticate(const radius::Packet& req, const Source& src, const std::string& key, int attempt = 0,
                    const LookedUp& looked_up = std::nullopt);
  /// Encodes the answer, makes `changes` durable, then sends it (and caches it for retransmissions).
  /// When the store refuses its pool offer, `retry` runs instead (without one, it is dropped).
  void answer_auth(const radius::Packet& req, const Source& src, const std::string& key, radius::Packet resp,
                   std::vector<Change> changes, std::function<void()> after = {},
                   std::function<void()> retry = {});
  /// The shared store refused these offers: counted, logged, and the pools' leases reloaded.
  void offers_taken(const std::vector<Lease>& taken);
  void reject(radius::Packet& resp, const std::string& reply_message, const std::string& metric_reason);
  /// Visited side: asks the home network, then assigns the address from our pool.
  boost::asio::awaitable<void> proxy_auth(radius::Packet req, std::string password, Source src,
                                          std::string key, roaming::RadsecClient* home_network);

  // radius_accounting.cpp
  void process_acct(std::span<const std::uint8_t> raw, const Source& src);
  /// After the checks and the duplicate cache: the session change, durable, then the answer.
  void account(const radius::Packet& req, const Source& src, const std::string& key,
               const LookedUp& looked_up = std::nullopt);
  /// When the request's event happened, into `in`; for what can start sessions, a refusal reason
  /// when it is too old (a captured request replayed later) or from the future.
  const char* read_event_time(const radius::Packet& req, radius::AcctStatus st, std::int64_t now,
                              AcctInput& in);
  /// Home side: whether a partner's accounting may change anything here.
  bool refuse_partner_accounting(const RoamingPartnerConfig& partner, const AcctInput& in,
                                 radius::AcctStatus st);
  /// Start/Interim/Stop/On/Off applied to the sessions; a refused request changes nothing.
  Outcome apply_accounting(const AcctInput& in, std::uint32_t status, bool refused, std::int64_t now,
                           const LookedUp& looked_up);
  void count_outcome(const radius::Packet& req, const AcctInput& in, const char* stale, Outcome& out);
  /// Ended sessions whose DNS records an external server must still drop are written in the same
  /// transaction as their end, so a crash before the server answers cannot leave them behind.
  void journal(Outcome& out);
  /// Seed 002 [0029], [0033]: a visiting terminal's attach and detach, whatever ended the session,
  /// owe its home network a Start or Stop. The records are added to `changes` (durable with the
  /// change they report) and returned for publish() to hand to the visited side.
  std::vector<OutboxRecord> owe_home(const std::vector<SessionEvent>& events, std::vector<Change>& changes);
  void owe_home(const SessionRecord& s, radius::AcctStatus status, std::vector<OutboxRecord>& owed,
                std::vector<Change>& changes);
  /// Logs and publishes session events (after their commit) and delivers what they owe home.
  void publish(const std::vector<SessionEvent>& events, std::vector<OutboxRecord> owed = {});
  void log_events(const std::vector<SessionEvent>& events);
  /// Several nodes over one store (issue 14 item 4): other nodes' changes into this node's table.
  void follow_other_nodes();
  /// Another node's changes: logged and published to this node's roles, never forwarded or committed.
  void remote_events(const std::vector<SessionEvent>& events);
  Counter& status_counter(std::uint32_t status);
  Counter& event_counter(const SessionEvent& e);
  void schedule_sweep();

  std::size_t lookups_waiting = 0;  ///< requests waiting for the directory (look_up)
  static constexpr std::size_t kMaxWaitingLookups = 1024;
  std::shared_ptr<int> alive_token = std::make_shared<int>(0);  ///< lookups ending after the role see it gone
  /// Directory lookups when the directory is blocking(); last member: joined first, while what its
  /// threads read still exists.
  std::unique_ptr<boost::asio::thread_pool> lookup_pool;
};

}  // namespace mobix
