#pragma once
// Who holds which IP right now: seed 000's "MSISDN/IP-address translation database",
// fed by RADIUS accounting (RFC 2866). Mutations come from one thread (the access
// role's); lookups are safe from any thread and answered from memory.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "access/ended_sessions.hpp"
#include "spine/session_view.hpp"
#include "store/records.hpp"

namespace mobix {

/// What an accounting request says about one session.
struct AcctInput {
  std::string nas;
  std::string apn;
  std::string ipv4;
  std::string ipv6_prefix;
  std::string msisdn;
  std::string imsi;
  std::string username;
  std::string acct_session_id;
  std::string hostname;  ///< seed 002: the name its DNS records carry
  /// The RADIUS client the request came from (its source address, or "radsec:<partner>").
  std::string nas_address;
  /// When the event happened: the NAS's Event-Timestamp (RFC 2869 5.3) when `event_time_from_nas`,
  /// else the arrival time less Acct-Delay-Time.
  std::int64_t event_time = 0;
  bool event_time_from_nas = false;
  std::int64_t subscriber_id = 0;
  /// Sessions are keyed by (APN, IP), or (NAS, IP) when there is no APN.
  std::string context() const { return apn.empty() ? "nas:" + nas : "apn:" + apn; }
};

/// The durable changes and the events a mutation produced; the caller commits the
/// changes, then publishes the events.
struct Outcome {
  std::vector<Change> changes;
  std::vector<SessionEvent> events;
  std::string note;  ///< why nothing changed, when nothing did
  /// Set when the request was refused as unsafe (a replay, a stale Start, another client's
  /// session): the counter's reason; `note` says more.
  std::string refused;
};

class SessionTable final : public SessionView {
 public:
  using SidGenerator = std::function<std::string()>;
  explicit SessionTable(SidGenerator gen = {});

  void load(const std::vector<SessionRecord>& records);

  Outcome start(const AcctInput& in, std::int64_t now);
  Outcome interim(const AcctInput& in, std::int64_t now);
  Outcome stop(const AcctInput& in, std::int64_t now);
  /// Accounting-On/Off: the NAS restarted, so every session it held is gone (RFC 2866 5.1); only
  /// sessions that RADIUS client started (`nas_address`) are its.
  Outcome end_all_of_nas(std::string_view nas, std::string_view nas_address, std::string_view reason,
                         std::int64_t now);
  /// Ends sessions not heard from since `cutoff`.
  Outcome expire(std::int64_t cutoff);
  /// Ends the session holding `ip` (any context) on an operator's request.
  Outcome purge_ip(std::string_view ip, std::int64_t now);

  // Committed changes from the shared store's feed, in commit order (issue 14 item 4): other nodes'
  // and this node's own, so the table converges on the store whatever order two nodes' commits for
  // one address took. Cache updates only: nothing to commit, nothing refused. The events are for this
  // node's other roles (the mail proxies close connections on detach, the embedded DNS serves them).
  std::vector<SessionEvent> apply_remote(const SessionRecord& r);
  std::vector<SessionEvent> apply_remote_end(const std::string& sid);
  /// Another node ended (NAS, Acct-Session-Id) for good: a replay sent here is refused too.
  void remember_remote_end(const EndedSession& e);
  /// Notifications may have been lost (the feed reconnected): `records` is what the store holds now.
  /// Sessions learned from the feed that are gone from it end here; sessions this node started and
  /// the feed has not confirmed yet are kept (their commit may still be in flight).
  std::vector<SessionEvent> resync(const std::vector<SessionRecord>& records);

  /// How long and how many ended sessions are remembered (EndedSessions); restores the store's.
  void remember_ends(std::int64_t window, std::size_t capacity, const std::vector<EndedSession>& ended);

  std::optional<SessionRecord> find_by_ip(std::string_view ip, std::string_view context = {}) const override;
  std::optional<SessionRecord> find_by_msisdn(std::string_view msisdn) const override;
  std::vector<SessionRecord> list() const override;
  std::size_t size() const override;
  void subscribe(Listener l) override { listeners_.push_back(std::move(l)); }
  void journal_ends(std::function<bool(const SessionRecord&)> needed) override {
    end_journal_ = std::move(needed);
  }
  /// Whether the end of `s` must be journaled (see journal_ends).
  bool end_journaled(const SessionRecord& s) const { return end_journal_ && end_journal_(s); }
  void publish(const std::vector<SessionEvent>& events) const;

 private:
  void insert_locked(const SessionRecord& r);
  void erase_locked(const std::string& sid);
  const SessionRecord* holder_locked(const std::string& context, const std::string& addr) const;
  /// Ends the session; unless it merely expired, its (NAS, Acct-Session-Id) is remembered as ended.
  void end_locked(const std::string& sid, const std::string& reason, Outcome& out, std::int64_t now);
  /// Why `in` may not start a session now (a replay-safety refusal), or nullptr.
  const char* unsafe_start_locked(const AcctInput& in, const std::vector<std::string>& addrs,
                                  std::int64_t now, Outcome& out);
  SessionRecord make_record(const AcctInput& in, std::int64_t now);
  void apply_remote_locked(const SessionRecord& r, std::vector<SessionEvent>& events);

  // Mutations and listings take mu_; lookups by IP take only one shard of the lookup
  // index, so the hot path (the mail proxies) rarely waits for the accounting thread.
  struct LookupShard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, std::vector<SessionRecord>> by_addr;
  };
  static constexpr std::size_t kShards = 32;
  LookupShard& shard(const std::string& addr) const {
    return shards_[std::hash<std::string>{}(addr) % kShards];
  }
  void index_put(const SessionRecord& r);
  void index_remove(const SessionRecord& r);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, SessionRecord> by_sid_;
  std::unordered_map<std::string, std::string> by_key_;  // context \n address -> sid
  /// msisdn -> its sessions by (start, sid): insert, erase and "newest" in O(log k) for k
  /// sessions of one MSISDN (a multimap scanned per erase fell to ~200 Starts/s at 65,000, issue 12).
  std::unordered_map<std::string, std::set<std::pair<std::int64_t, std::string>>> by_msisdn_;
  mutable std::array<LookupShard, kShards> shards_;
  std::array<std::atomic<bool>, 129> v6_prefix_lengths_{};
  std::vector<Listener> listeners_;
  std::function<bool(const SessionRecord&)> end_journal_;
  SidGenerator gen_;
  EndedSessions ended_;
  std::unordered_set<std::string> remote_;  ///< sids the feed confirmed (committed in the store)
};

}  // namespace mobix
