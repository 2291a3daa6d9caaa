#pragma once
// Makes DNS follow the access sessions (seed 002 [0029], [0033]): on attach the terminal's host
// name gets an A record (in the forward zone that holds it) and its address a PTR (in the
// reverse zone that holds it); on detach both go. Each zone is served either by the embedded
// server (a ZoneSet) or by the operator's DNS server through RFC 2136 (an UpdateClient).
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/dns/zone.hpp"
#include "core/metrics.hpp"
#include "dns/update_client.hpp"
#include "spine/session_view.hpp"
#include "store/writer.hpp"

namespace mobix::dns {

class ZonePublisher {
 public:
  /// `sessions` is asked whether a record is still in use before it is removed.
  ZonePublisher(ZoneSet& embedded, const SessionView& sessions, std::uint32_t ttl,
                StoreWriter* writer = nullptr);
  /// Also publishes names no zone of ours holds (visiting terminals') as "<name>.<origin>".
  void set_roamers_zone(const std::string& origin) { roamers_zone_ = origin; }
  /// Routes `origin` (normalized) to an RFC 2136 server instead of the embedded server.
  void add_external_zone(const std::string& origin, UpdateServerConfig cfg);
  bool has_external_zones() const { return !external_.empty(); }
  /// Several nodes over one store (issue 14 item 5): only the node holding the update job sends
  /// RFC 2136 updates (`lease` says whether this one does, and fences its journal writes); the
  /// others keep their embedded zones only. A node that takes the job over reconciles.
  void set_update_lease(std::function<std::optional<JobLease>()> lease) { update_lease_ = std::move(lease); }

  void on_event(const SessionEvent& e);
  /// After a start: the zones say exactly what the live sessions say. Embedded zones are rebuilt;
  /// external zones first get the removals journaled before a crash (`pending_removals`), then
  /// every live record again.
  void reconcile(const std::vector<SessionRecord>& live,
                 const std::vector<SessionRecord>& pending_removals = {});
  /// True when some of the session's records live in an external server: its end must then be
  /// journaled (AccessRole::set_dns_journal) until that server confirms the removal.
  bool needs_journal(const SessionRecord& s) const;
  /// Waits for the external servers to accept everything queued (tests, shutdown).
  bool flush(int ms);

 private:
  struct Target {
    std::string origin;
    UpdateClient* external = nullptr;  ///< null: the embedded ZoneSet
  };
  std::optional<Target> route(const std::string& name) const;
  void apply(RecordChange c);
  std::vector<RecordChange> records_of(const SessionRecord& s, RecordChange::Op op) const;
  /// Sends a journaled session's removals to the external servers (the embedded ones are applied).
  void drop_journaled(const SessionRecord& s, bool embedded_too);
  void applied(const std::deque<RecordChange>& batch);
  void free_journal(const std::string& sid);

  ZoneSet& embedded_;
  const SessionView& sessions_;
  std::uint32_t ttl_;
  std::string roamers_zone_;
  Counter& puts_ = metrics().counter("mobix_dns_record_changes_total",
                                     "Session-driven record changes, by operation", "op=\"put\"");
  Counter& drops_ = metrics().counter("mobix_dns_record_changes_total",
                                      "Session-driven record changes, by operation", "op=\"drop\"");
  StoreWriter* writer_;
  std::function<std::optional<JobLease>()> update_lease_;  ///< unset: this node always sends
  std::optional<JobLease> updating() const {
    return update_lease_ ? update_lease_() : std::optional<JobLease>(JobLease{});
  }
  std::mutex mu_;
  std::unordered_map<std::string, int> outstanding_;  ///< sid -> removals not yet confirmed
  std::vector<std::pair<std::string, std::unique_ptr<UpdateClient>>> external_;
};

}  // namespace mobix::dns
