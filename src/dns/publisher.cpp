#include "dns/publisher.hpp"

#include "store/writer.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

namespace mobix::dns {

ZonePublisher::ZonePublisher(ZoneSet& embedded, const SessionView& sessions, std::uint32_t ttl,
                             StoreWriter* writer)
    : embedded_(embedded), sessions_(sessions), ttl_(ttl), writer_(writer) {
  metrics().gauge("mobix_dns_session_records", "Records in the embedded zones that follow sessions",
                  [this] { return double(embedded_.dynamic_count()); });
  // One gauge for every external zone: a gauge has one reader, so a per-client one kept only the last.
  metrics().gauge("mobix_dns_update_queue", "Record changes waiting for the operators' DNS servers", [this] {
    std::size_t n = 0;
    for (const auto& [origin, client] : external_) n += client->pending();
    return double(n);
  });
}

void ZonePublisher::add_external_zone(const std::string& origin, UpdateServerConfig cfg) {
  external_.emplace_back(origin, std::make_unique<UpdateClient>(
                                     origin, std::move(cfg), [this](const auto& batch) { applied(batch); }));
}

std::optional<ZonePublisher::Target> ZonePublisher::route(const std::string& name) const {
  std::optional<Target> best;
  for (const auto& [origin, client] : external_)
    if (in_zone(name, origin) && (!best || origin.size() > best->origin.size()))
      best = Target{origin, client.get()};
  if (auto local = embedded_.zone_of(name); local && (!best || local->size() > best->origin.size()))
    best = Target{*local, nullptr};
  return best;
}

std::vector<RecordChange> ZonePublisher::records_of(const SessionRecord& s, RecordChange::Op op) const {
  std::vector<RecordChange> out;
  auto host = normalize_name(s.hostname);
  if (!host || host->empty() || s.ipv4.empty()) return out;
  out.push_back(RecordChange{op, *host, kA, ttl_, s.ipv4, {}});
  // Seed 002 [0029]: the visited network's DNS maps a visitor's name to its address too; the
  // name belongs to the home network's zone, so it is published below one of ours.
  if (!roamers_zone_.empty() && !route(*host))
    if (auto alias = normalize_name(*host + "." + roamers_zone_))
      out.push_back(RecordChange{op, *alias, kA, ttl_, s.ipv4, {}});
  if (auto rev = reverse_name(s.ipv4)) out.push_back(RecordChange{op, *rev, kPTR, ttl_, *host + ".", {}});
  return out;
}

void ZonePublisher::apply(RecordChange c) {
  auto target = route(c.name);
  if (!target) return;  // neither a zone of ours nor one we update: the other network's business
  if (target->external && !updating()) return;  // another node holds the update job
  (c.op == RecordChange::Op::put ? puts_ : drops_).inc();
  if (target->external) {
    target->external->submit(std::move(c));
  } else if (c.op == RecordChange::Op::put) {
    embedded_.set(c.name, c.type, c.rdata);
  } else {
    embedded_.remove(c.name, c.type, c.rdata);
  }
}

bool ZonePublisher::needs_journal(const SessionRecord& s) const {
  if (!writer_) return false;
  for (const auto& c : records_of(s, RecordChange::Op::drop))
    if (auto t = route(c.name); t && t->external) return true;
  return false;
}

void ZonePublisher::drop_journaled(const SessionRecord& s, bool embedded_too) {
  auto changes = records_of(s, RecordChange::Op::drop);
  std::vector<std::pair<UpdateClient*, RecordChange>> external;
  for (auto& c : changes) {
    auto t = route(c.name);
    if (!t) continue;
    if (!t->external) {
      if (embedded_too) apply(std::move(c));
      continue;
    }
    if (!updating()) continue;  // the journal stays for the node that holds the update job
    c.sid = s.sid;
    external.emplace_back(t->external, std::move(c));
  }
  if (external.empty()) {
    if (updating()) free_journal(s.sid);
    return;
  }
  {
    // Counted before the first is sent: a fast answer must not free the journal early.
    std::lock_guard lock(mu_);
    outstanding_[s.sid] += static_cast<int>(external.size());
  }
  for (auto& [client, c] : external) {
    drops_.inc();
    client->submit(std::move(c));
  }
}

void ZonePublisher::applied(const std::deque<RecordChange>& batch) {
  std::vector<std::string> done;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : batch) {
      if (c.sid.empty()) continue;
      auto it = outstanding_.find(c.sid);
      if (it != outstanding_.end() && --it->second <= 0) {
        done.push_back(c.sid);
        outstanding_.erase(it);
      }
    }
  }
  for (const auto& sid : done) free_journal(sid);
}

void ZonePublisher::free_journal(const std::string& sid) {
  if (!writer_) return;
  SessionRecord r;
  r.sid = sid;
  // Lost if the process dies first: the removal is then simply sent again after the restart. With
  // several nodes, the write carries the update job's lease (a former holder cannot write).
  auto lease = updating();
  if (!lease) return;  // the node that holds the job now resends and frees it
  std::optional<JobLease> fence;
  if (update_lease_) fence = std::move(lease);
  writer_->submit({Change{Change::Kind::free_dns_removal, r, {}}}, {}, std::move(fence));
}

void ZonePublisher::on_event(const SessionEvent& e) {
  if (e.kind == SessionEvent::Kind::attach) {
    for (auto& c : records_of(e.session, RecordChange::Op::put)) apply(std::move(c));
    return;
  }
  // A takeover may publish the new session before the old one's detach arrives: keep what a
  // live session still says.
  auto holder = sessions_.find_by_ip(e.session.ipv4);
  bool same = holder && holder->hostname == e.session.hostname;
  bool journaled = needs_journal(e.session);
  if (same) {
    if (journaled) free_journal(e.session.sid);
    return;
  }
  if (journaled) return drop_journaled(e.session, true);
  for (auto& c : records_of(e.session, RecordChange::Op::drop)) apply(std::move(c));
}

void ZonePublisher::reconcile(const std::vector<SessionRecord>& live,
                              const std::vector<SessionRecord>& pending_removals) {
  embedded_.clear_dynamic();
  // Removals the external servers had not confirmed when the process stopped, before the live
  // records (the queue is ordered), so a live session's value always ends up in place.
  for (const auto& r : pending_removals) drop_journaled(r, false);
  if (!pending_removals.empty())
    spdlog::info("dns: {} ended sessions' removals resent to the external DNS servers",
                 pending_removals.size());
  std::size_t n = 0;
  for (const auto& s : live)
    for (auto& c : records_of(s, RecordChange::Op::put)) {
      apply(std::move(c));
      ++n;
    }
  spdlog::info("dns: zones reconciled with {} live sessions ({} records)", live.size(), n);
}

bool ZonePublisher::flush(int ms) {
  bool ok = true;
  for (auto& [origin, client] : external_) ok = client->flush(ms) && ok;
  return ok;
}

}  // namespace mobix::dns
