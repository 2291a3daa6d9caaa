#include "access/session_table.hpp"

#include <algorithm>
#include <mutex>
#include <random>

#include <fmt/format.h>

#include "core/net.hpp"

namespace mobix {
namespace {

std::string key(const std::string& context, const std::string& addr) {
  return context + "\n" + addr;
}

std::vector<std::string> addresses(const SessionRecord& r) {
  std::vector<std::string> out;
  if (!r.ipv4.empty()) out.push_back(r.ipv4);
  if (!r.ipv6_prefix.empty()) out.push_back(r.ipv6_prefix);
  return out;
}

std::vector<std::string> addresses(const AcctInput& in) {
  std::vector<std::string> out;
  if (!in.ipv4.empty()) out.push_back(in.ipv4);
  if (!in.ipv6_prefix.empty()) out.push_back(in.ipv6_prefix);
  return out;
}

Change put(const SessionRecord& r) {
  return Change{Change::Kind::put_session, r, {}};
}

// A session is its RADIUS client's: another client (another source address in the client range,
// or a replay from one) cannot refresh, stop or end it. Records from before the binding have none.
bool same_client(const SessionRecord& r, const AcctInput& in) {
  return r.nas_address.empty() || in.nas_address.empty() || r.nas_address == in.nas_address;
}

Outcome other_client(const SessionRecord& r, const AcctInput& in) {
  Outcome out;
  out.refused = "other_client";
  out.note = fmt::format("Acct-Session-Id {} of NAS {} belongs to RADIUS client {}, not {}: ignored",
                         r.acct_session_id, r.nas, r.nas_address, in.nas_address);
  return out;
}

}  // namespace

void SessionTable::remember_ends(std::int64_t window, std::size_t capacity,
                                 const std::vector<EndedSession>& ended) {
  std::unique_lock lock(mu_);
  ended_.configure(window, capacity);
  for (const auto& e : ended) ended_.remember(e.nas, e.acct_session_id, e.ended);
}

const char* SessionTable::unsafe_start_locked(const AcctInput& in, const std::vector<std::string>& addrs,
                                              std::int64_t now, Outcome& out) {
  if (ended_.contains(in.nas, in.acct_session_id, now)) {
    out.note =
        fmt::format("Acct-Session-Id {} of NAS {} has ended: a replayed Start or Interim does not revive it",
                    in.acct_session_id, in.nas);
    return "ended_session";
  }
  if (!in.event_time_from_nas) return nullptr;
  for (const auto& a : addrs)
    if (auto* cur = holder_locked(in.context(), a); cur && cur->started > in.event_time) {
      out.note =
          fmt::format("a Start from {} older than the session holding {} (started {}) does not take it over",
                      in.event_time, a, cur->started);
      return "older_than_holder";
    }
  return nullptr;
}

SessionTable::SessionTable(SidGenerator gen) : gen_(std::move(gen)) {
  if (!gen_) {
    gen_ = [rng = std::mt19937_64(std::random_device{}())]() mutable {
      return fmt::format("{:016x}", rng());
    };
  }
}

void SessionTable::load(const std::vector<SessionRecord>& records) {
  std::unique_lock lock(mu_);
  for (const auto& r : records) insert_locked(r);
}

void SessionTable::index_put(const SessionRecord& r) {
  for (const auto& a : addresses(r)) {
    auto& sh = shard(a);
    std::unique_lock lock(sh.mu);
    auto& list = sh.by_addr[a];
    auto it = std::find_if(list.begin(), list.end(), [&](const SessionRecord& x) { return x.sid == r.sid; });
    if (it == list.end())
      list.push_back(r);
    else
      *it = r;
  }
}

void SessionTable::index_remove(const SessionRecord& r) {
  for (const auto& a : addresses(r)) {
    auto& sh = shard(a);
    std::unique_lock lock(sh.mu);
    auto it = sh.by_addr.find(a);
    if (it == sh.by_addr.end()) continue;
    std::erase_if(it->second, [&](const SessionRecord& x) { return x.sid == r.sid; });
    if (it->second.empty()) sh.by_addr.erase(it);
  }
}

void SessionTable::insert_locked(const SessionRecord& r) {
  by_sid_[r.sid] = r;
  for (const auto& a : addresses(r)) by_key_[key(r.context, a)] = r.sid;
  if (!r.msisdn.empty()) by_msisdn_[r.msisdn].emplace(r.started, r.sid);
  index_put(r);
  if (!r.ipv6_prefix.empty()) {
    auto slash = r.ipv6_prefix.find('/');
    if (slash != std::string::npos) {
      auto len = std::stoul(r.ipv6_prefix.substr(slash + 1));
      if (len <= 128) v6_prefix_lengths_[len].store(true);
    }
  }
}

void SessionTable::erase_locked(const std::string& sid) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  for (const auto& a : addresses(it->second)) {
    auto k = key(it->second.context, a);
    if (auto kit = by_key_.find(k); kit != by_key_.end() && kit->second == sid) by_key_.erase(kit);
  }
  index_remove(it->second);
  if (auto m = by_msisdn_.find(it->second.msisdn); m != by_msisdn_.end()) {
    m->second.erase({it->second.started, sid});
    if (m->second.empty()) by_msisdn_.erase(m);
  }
  remote_.erase(sid);  // before by_sid_.erase: `sid` may be the erased record's own string
  by_sid_.erase(it);
}

const SessionRecord* SessionTable::holder_locked(const std::string& context, const std::string& addr) const {
  auto it = by_key_.find(key(context, addr));
  if (it == by_key_.end()) return nullptr;
  auto s = by_sid_.find(it->second);
  return s == by_sid_.end() ? nullptr : &s->second;
}

void SessionTable::end_locked(const std::string& sid, const std::string& reason, Outcome& out,
                              std::int64_t now) {
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return;
  SessionRecord r = it->second;
  erase_locked(sid);
  out.changes.push_back(Change{Change::Kind::end_session, r, {}});
  // A session that only went silent may come back with an Interim (RFC 5080 2.1); any other end
  // is final.
  if (reason != "expired" && !r.acct_session_id.empty()) {
    ended_.remember(r.nas, r.acct_session_id, now);
    Change c{Change::Kind::put_ended_session, {}, {}};
    c.ended = EndedSession{r.nas, r.acct_session_id, now, now - ended_.window()};
    out.changes.push_back(std::move(c));
  }
  out.events.push_back(SessionEvent{SessionEvent::Kind::detach, std::move(r), reason});
}

SessionRecord SessionTable::make_record(const AcctInput& in, std::int64_t now) {
  SessionRecord r;
  r.sid = gen_();
  r.context = in.context();
  r.ipv4 = in.ipv4;
  r.ipv6_prefix = in.ipv6_prefix;
  r.msisdn = in.msisdn;
  r.imsi = in.imsi;
  r.username = in.username;
  r.nas = in.nas;
  r.apn = in.apn;
  r.acct_session_id = in.acct_session_id;
  r.hostname = in.hostname;
  r.subscriber_id = in.subscriber_id;
  r.nas_address = in.nas_address;
  r.started = in.event_time_from_nas ? in.event_time : now;
  r.last_seen = now;
  return r;
}

Outcome SessionTable::start(const AcctInput& in, std::int64_t now) {
  Outcome out;
  auto addrs = addresses(in);
  if (addrs.empty()) {
    out.note = "no Framed-IP-Address or Framed-IPv6-Prefix: nothing to track";
    return out;
  }
  std::unique_lock lock(mu_);
  auto ctx = in.context();
  // A retransmitted or repeated Start for the session we already hold refreshes it.
  if (auto* cur = holder_locked(ctx, addrs.front());
      cur && cur->acct_session_id == in.acct_session_id && cur->nas == in.nas) {
    if (!same_client(*cur, in)) return other_client(*cur, in);
    SessionRecord r = *cur;
    r.last_seen = now;
    by_sid_[r.sid] = r;
    index_put(r);
    out.changes.push_back(put(r));
    out.note = "repeated Start for the current session";
    return out;
  }
  if (const char* why = unsafe_start_locked(in, addrs, now, out)) {
    out.refused = why;
    return out;
  }
  // Seed 000 relies on IP -> MSISDN being unambiguous: whoever held these addresses
  // before has lost them (the network reassigned the IP).
  for (const auto& a : addrs)
    if (auto* cur = holder_locked(ctx, a)) end_locked(cur->sid, "takeover", out, now);
  auto r = make_record(in, now);
  insert_locked(r);
  out.changes.push_back(put(r));
  out.events.push_back(SessionEvent{SessionEvent::Kind::attach, r, "start"});
  return out;
}

Outcome SessionTable::interim(const AcctInput& in, std::int64_t now) {
  auto addrs = addresses(in);
  if (addrs.empty())
    return Outcome{{}, {}, "no Framed-IP-Address or Framed-IPv6-Prefix: nothing to track", {}};
  {
    std::unique_lock lock(mu_);
    if (auto* cur = holder_locked(in.context(), addrs.front());
        cur && cur->acct_session_id == in.acct_session_id) {
      if (!same_client(*cur, in)) return other_client(*cur, in);
      SessionRecord r = *cur;
      r.last_seen = now;
      by_sid_[r.sid] = r;
      index_put(r);
      return Outcome{{put(r)}, {}, {}, {}};
    }
  }
  // RFC 5080 section 2.1 lets an Interim-Update stand in for a lost Start.
  auto out = start(in, now);
  if (out.refused.empty()) out.note = "Interim-Update for an unknown session treated as Start";
  return out;
}

Outcome SessionTable::stop(const AcctInput& in, std::int64_t now) {
  Outcome out;
  auto addrs = addresses(in);
  std::unique_lock lock(mu_);
  for (const auto& a : addrs) {
    auto* cur = holder_locked(in.context(), a);
    if (!cur) continue;
    if (cur->acct_session_id != in.acct_session_id) {
      out.note = "Stop for Acct-Session-Id " + in.acct_session_id + " but the address is held by " +
                 cur->acct_session_id + ": ignored";
      return out;
    }
    if (!same_client(*cur, in)) return other_client(*cur, in);
    end_locked(cur->sid, "stop", out, now);
    return out;
  }
  if (addrs.empty()) {
    // Without an address, match on the accounting session id of that NAS.
    for (const auto& [sid, r] : by_sid_)
      if (r.nas == in.nas && r.acct_session_id == in.acct_session_id && same_client(r, in)) {
        end_locked(std::string(sid), "stop", out, now);
        return out;
      }
  }
  out.note = "Stop for a session that is not live: ignored";
  return out;
}

Outcome SessionTable::end_all_of_nas(std::string_view nas, std::string_view nas_address,
                                     std::string_view reason, std::int64_t now) {
  Outcome out;
  std::unique_lock lock(mu_);
  std::vector<std::string> victims;
  std::size_t others = 0;
  for (const auto& [sid, r] : by_sid_) {
    if (r.nas != nas) continue;
    if (r.nas_address.empty() || nas_address.empty() || r.nas_address == nas_address)
      victims.push_back(sid);
    else
      ++others;  // the same NAS-Identifier from another RADIUS client: not its sessions
  }
  for (const auto& sid : victims) end_locked(sid, std::string(reason), out, now);
  if (others && victims.empty()) {
    out.refused = "other_client";
    out.note = std::string(reason) + " for NAS " + std::string(nas) + " from " + std::string(nas_address) +
               ", whose sessions another RADIUS client started: ignored";
  }
  return out;
}

Outcome SessionTable::expire(std::int64_t cutoff) {
  Outcome out;
  std::unique_lock lock(mu_);
  std::vector<std::string> victims;
  for (const auto& [sid, r] : by_sid_)
    if (r.last_seen < cutoff) victims.push_back(sid);
  for (const auto& sid : victims) end_locked(sid, "expired", out, cutoff);
  return out;
}

Outcome SessionTable::purge_ip(std::string_view ip, std::int64_t now) {
  Outcome out;
  std::unique_lock lock(mu_);
  std::vector<std::string> victims;
  {
    auto& sh = shard(std::string(ip));
    std::shared_lock slock(sh.mu);
    if (auto it = sh.by_addr.find(std::string(ip)); it != sh.by_addr.end())
      for (const auto& r : it->second) victims.push_back(r.sid);
  }
  for (const auto& sid : victims) end_locked(sid, "admin", out, now);
  if (victims.empty()) out.note = "no session holds " + std::string(ip);
  return out;
}

std::optional<SessionRecord> SessionTable::find_by_ip(std::string_view ip_text,
                                                      std::string_view context) const {
  boost::system::error_code ec;
  auto addr = canonical(boost::asio::ip::make_address(std::string(ip_text), ec));
  if (ec) return std::nullopt;
  auto best = [&](const std::string& a) -> std::optional<SessionRecord> {
    auto& sh = shard(a);
    std::shared_lock lock(sh.mu);
    auto it = sh.by_addr.find(a);
    if (it == sh.by_addr.end()) return std::nullopt;
    const SessionRecord* found = nullptr;
    for (const auto& r : it->second) {
      if (!context.empty() && r.context != context) continue;
      if (!found || r.started > found->started) found = &r;
    }
    if (!found) return std::nullopt;
    return *found;
  };
  if (addr.is_v4()) return best(addr.to_string());
  for (unsigned len = 0; len <= 128; ++len) {
    if (!v6_prefix_lengths_[len].load(std::memory_order_relaxed)) continue;
    if (auto r = best(mask_address(addr, len).to_string() + "/" + std::to_string(len))) return r;
  }
  return std::nullopt;
}

std::optional<SessionRecord> SessionTable::find_by_msisdn(std::string_view msisdn) const {
  std::shared_lock lock(mu_);
  auto m = by_msisdn_.find(std::string(msisdn));
  if (m == by_msisdn_.end()) return std::nullopt;
  // Newest first; a session without IPv4 (IPv6 only) is passed over.
  for (auto s = m->second.rbegin(); s != m->second.rend(); ++s) {
    auto it = by_sid_.find(s->second);
    if (it != by_sid_.end() && !it->second.ipv4.empty()) return it->second;
  }
  return std::nullopt;
}

std::vector<SessionRecord> SessionTable::list() const {
  std::shared_lock lock(mu_);
  std::vector<SessionRecord> out;
  out.reserve(by_sid_.size());
  for (const auto& [sid, r] : by_sid_) out.push_back(r);
  return out;
}

std::size_t SessionTable::size() const {
  std::shared_lock lock(mu_);
  return by_sid_.size();
}

void SessionTable::publish(const std::vector<SessionEvent>& events) const {
  for (const auto& e : events)
    for (const auto& l : listeners_) l(e);
}

void SessionTable::apply_remote_locked(const SessionRecord& r, std::vector<SessionEvent>& events) {
  if (auto it = by_sid_.find(r.sid); it != by_sid_.end()) {
    bool moved = it->second.context != r.context || addresses(it->second) != addresses(r);
    SessionRecord old = it->second;
    erase_locked(r.sid);
    if (moved) events.push_back(SessionEvent{SessionEvent::Kind::detach, std::move(old), "remote"});
    insert_locked(r);
    remote_.insert(r.sid);
    if (moved) events.push_back(SessionEvent{SessionEvent::Kind::attach, r, "remote"});
    return;
  }
  // The other node took the address over; its end of the previous holder may still be on the way.
  for (const auto& a : addresses(r))
    if (const auto* cur = holder_locked(r.context, a); cur && cur->sid != r.sid) {
      SessionRecord old = *cur;
      erase_locked(old.sid);
      events.push_back(SessionEvent{SessionEvent::Kind::detach, std::move(old), "takeover"});
    }
  insert_locked(r);
  remote_.insert(r.sid);
  events.push_back(SessionEvent{SessionEvent::Kind::attach, r, "remote"});
}

std::vector<SessionEvent> SessionTable::apply_remote(const SessionRecord& r) {
  std::vector<SessionEvent> events;
  std::unique_lock lock(mu_);
  apply_remote_locked(r, events);
  return events;
}

std::vector<SessionEvent> SessionTable::apply_remote_end(const std::string& sid) {
  std::vector<SessionEvent> events;
  std::unique_lock lock(mu_);
  auto it = by_sid_.find(sid);
  if (it == by_sid_.end()) return events;
  SessionRecord old = it->second;
  erase_locked(sid);
  events.push_back(SessionEvent{SessionEvent::Kind::detach, std::move(old), "remote"});
  return events;
}

void SessionTable::remember_remote_end(const EndedSession& e) {
  std::unique_lock lock(mu_);
  ended_.remember(e.nas, e.acct_session_id, e.ended);
}

std::vector<SessionEvent> SessionTable::resync(const std::vector<SessionRecord>& records) {
  std::vector<SessionEvent> events;
  std::unique_lock lock(mu_);
  std::unordered_set<std::string> present;
  for (const auto& r : records) {
    present.insert(r.sid);
    auto it = by_sid_.find(r.sid);
    if (it == by_sid_.end() || remote_.count(r.sid)) apply_remote_locked(r, events);
  }
  std::vector<std::string> gone;
  for (const auto& sid : remote_)
    if (!present.count(sid)) gone.push_back(sid);
  for (const auto& sid : gone) {
    SessionRecord old = by_sid_.at(sid);
    erase_locked(sid);
    events.push_back(SessionEvent{SessionEvent::Kind::detach, std::move(old), "remote"});
  }
  return events;
}

}  // namespace mobix
