#include "store/pg_batch.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace mobix::pg {

namespace {

/// Builds a PostgreSQL array literal ({"a","b"}); every element quoted, \ and " escaped.
class ArrayLiteral {
 public:
  void add(const std::string& v) {
    out_ += out_.size() > 1 ? ",\"" : "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') out_ += '\\';
      out_ += c;
    }
    out_ += '"';
  }
  void add(std::int64_t v) { add(std::to_string(v)); }
  std::string str() const { return out_ + "}"; }

 private:
  std::string out_ = "{";
};

/// The last change per key, in first-seen order of the keys.
template <typename T>
class LastPerKey {
 public:
  void set(const std::string& key, bool put, const T* value) {
    auto [it, fresh] = index_.emplace(key, entries_.size());
    if (fresh)
      entries_.push_back({put, value});
    else
      entries_[it->second] = {put, value};
  }
  template <typename F>
  void each(bool put, F&& f) const {
    for (const auto& e : entries_)
      if (e.put == put) f(*e.value);
  }
  bool any(bool put) const {
    return std::any_of(entries_.begin(), entries_.end(), [put](const auto& e) { return e.put == put; });
  }

 private:
  struct Entry {
    bool put;
    const T* value;
  };
  std::map<std::string, std::size_t> index_;
  std::vector<Entry> entries_;
};

constexpr const char* kSessionColumns =
    "sid, context, ipv4, ipv6_prefix, msisdn, imsi, username, nas, apn, acct_session_id, subscriber_id, "
    "started, "
    "last_seen, hostname, nas_address";

Query put_sessions(const LastPerKey<SessionRecord>& sessions) {
  ArrayLiteral cols[15];
  sessions.each(true, [&](const SessionRecord& r) {
    cols[0].add(r.sid), cols[1].add(r.context), cols[2].add(r.ipv4), cols[3].add(r.ipv6_prefix);
    cols[4].add(r.msisdn), cols[5].add(r.imsi), cols[6].add(r.username), cols[7].add(r.nas),
        cols[8].add(r.apn);
    cols[9].add(r.acct_session_id), cols[10].add(r.subscriber_id), cols[11].add(r.started);
    cols[12].add(r.last_seen), cols[13].add(r.hostname), cols[14].add(r.nas_address);
  });
  Params p;
  for (auto& c : cols) p.push_back(c.str());
  return {"batch_put_sessions", std::move(p)};
}

Query take_addresses(const LastPerKey<SessionRecord>& sessions) {
  ArrayLiteral context, ipv4, sid;
  sessions.each(true, [&](const SessionRecord& r) {
    if (r.ipv4.empty()) return;
    context.add(r.context), ipv4.add(r.ipv4), sid.add(r.sid);
  });
  return {"batch_take_addresses", {context.str(), ipv4.str(), sid.str()}};
}

Query lock_addresses(const LastPerKey<SessionRecord>& sessions) {
  ArrayLiteral keys;
  sessions.each(true, [&](const SessionRecord& r) {
    if (!r.ipv4.empty()) keys.add(r.context + "\n" + r.ipv4);
  });
  return {"batch_lock_addresses", {keys.str()}};
}

/// The array parameters of the bound leases (`offers` false) or of the offers; nullopt when there
/// are none. The offers' leases are also listed in `offered`.
std::optional<Params> lease_rows(const LastPerKey<Lease>& leases, bool offers,
                                 std::vector<const Lease*>* offered) {
  ArrayLiteral pool, ip, sub, bound, expires;
  bool any = false;
  leases.each(true, [&](const Lease& l) {
    if (l.bound == offers) return;
    any = true;
    if (offered) offered->push_back(&l);
    pool.add(l.pool), ip.add(l.ip), sub.add(l.subscriber_id), bound.add(l.bound ? "t" : "f"),
        expires.add(l.expires);
  });
  if (!any) return std::nullopt;
  return Params{pool.str(), ip.str(), sub.str(), bound.str(), expires.str()};
}

}  // namespace

const std::vector<Statement>& batch_statements() {
  static const std::string put_sessions_sql =
      std::string("INSERT INTO sessions (") + kSessionColumns +
      ") SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
      "$7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], "
      "$14::text[], $15::text[]) ON CONFLICT (sid) DO UPDATE SET context=EXCLUDED.context, "
      "ipv4=EXCLUDED.ipv4, "
      "ipv6_prefix=EXCLUDED.ipv6_prefix, msisdn=EXCLUDED.msisdn, imsi=EXCLUDED.imsi, "
      "username=EXCLUDED.username, "
      "nas=EXCLUDED.nas, apn=EXCLUDED.apn, acct_session_id=EXCLUDED.acct_session_id, "
      "subscriber_id=EXCLUDED.subscriber_id, started=EXCLUDED.started, last_seen=EXCLUDED.last_seen, "
      "hostname=EXCLUDED.hostname, nas_address=EXCLUDED.nas_address";
  static const std::vector<Statement> list{
      // Per-key serialisation between nodes: the batch's addresses, locked in one order (no deadlock
      // between batches), for the transaction only (safe behind a transaction pooler).
      {"batch_lock_addresses",
       "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(k, 7236490) AS h "
       "FROM unnest($1::text[]) AS k ORDER BY h OFFSET 0) AS keys"},
      {"batch_end_sessions", "DELETE FROM sessions WHERE sid = ANY($1::text[])"},
      // Whoever held an address before this batch's session (maybe a session another node started
      // that this node has not heard of yet) has lost it: the network reassigned the IP.
      {"batch_take_addresses",
       "DELETE FROM sessions s USING unnest($1::text[], $2::text[], $3::text[]) AS t(context, ipv4, sid) "
       "WHERE s.context = t.context AND s.ipv4 = t.ipv4 AND s.ipv4 <> '' AND s.sid <> t.sid"},
      {"batch_put_sessions", put_sessions_sql.c_str()},
      // A session's end frees its address (expires 0); an offer that timed out is freed only while it
      // is still that subscriber's unused offer (another node may have bound or re-offered it since).
      {"batch_free_leases",
       "DELETE FROM leases l USING unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS t(pool, ip, "
       "sub, expires) WHERE l.pool = t.pool AND l.ip = t.ip AND (t.expires = 0 OR (NOT l.bound AND "
       "l.subscriber_id = t.sub AND l.expires <= t.expires))"},
      // The network bound the address (an Accounting-Start): it wins over any offer.
      {"batch_put_leases",
       "INSERT INTO leases (pool, ip, subscriber_id, bound, expires) SELECT * FROM unnest($1::text[], "
       "$2::text[], "
       "$3::bigint[], $4::boolean[], $5::bigint[]) ON CONFLICT (pool, ip) DO UPDATE SET "
       "subscriber_id=EXCLUDED.subscriber_id, bound=EXCLUDED.bound, expires=EXCLUDED.expires"},
      // An offer claims the address only when it is free, already this subscriber's, or an offer that
      // expired: the unique key makes a concurrent claim by another node wait for this one's COMMIT
      // and then see it (Kea's allocation engine does the same against its lease table). The
      // addresses claimed come back; the others are the caller's to offer again.
      {"batch_claim_leases",
       "INSERT INTO leases AS l (pool, ip, subscriber_id, bound, expires) SELECT * FROM unnest($1::text[], "
       "$2::text[], $3::bigint[], $4::boolean[], $5::bigint[]) ON CONFLICT (pool, ip) DO UPDATE SET "
       "expires=EXCLUDED.expires, bound=l.bound AND l.subscriber_id = EXCLUDED.subscriber_id, "
       "subscriber_id=EXCLUDED.subscriber_id WHERE l.subscriber_id = EXCLUDED.subscriber_id OR "
       "(NOT l.bound AND l.expires < $6) RETURNING l.pool, l.ip"},
      {"batch_free_dns_removals", "DELETE FROM dns_removals WHERE sid = ANY($1::text[])"},
      {"batch_put_dns_removals",
       "INSERT INTO dns_removals (sid, hostname, ipv4) SELECT * FROM unnest($1::text[], $2::text[], "
       "$3::text[]) "
       "ON CONFLICT (sid) DO UPDATE SET hostname=EXCLUDED.hostname, ipv4=EXCLUDED.ipv4"},
      {"batch_put_seen_signals",
       "INSERT INTO seen_signals (tunnel_id, expires) SELECT * FROM unnest($1::bigint[], $2::bigint[]) "
       "ON CONFLICT (tunnel_id) DO UPDATE SET expires=greatest(seen_signals.expires, EXCLUDED.expires)"},
      {"batch_prune_seen_signals", "DELETE FROM seen_signals WHERE expires < $1"},
      {"batch_put_ended_sessions",
       "INSERT INTO ended_sessions (nas, acct_session_id, ended) SELECT * FROM unnest($1::text[], "
       "$2::text[], "
       "$3::bigint[]) ON CONFLICT (nas, acct_session_id) DO UPDATE SET ended=EXCLUDED.ended"},
      {"batch_prune_ended_sessions", "DELETE FROM ended_sessions WHERE ended < $1"},
      // A binding never goes back to an older identification (RFC 5944 5.7). The rows returned are
      // the bindings not written, each with the stored one (as the statement's snapshot saw it:
      // the caller checks it is newer), so the Home Agent that lost learns the winner.
      {"batch_put_mobility_bindings",
       "WITH input (home_address, care_of, expires, identification, registered) AS (SELECT * FROM "
       "unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[])), "
       "written AS (INSERT INTO mobility_bindings AS b (home_address, care_of, expires, identification, "
       "registered) SELECT * FROM input ON CONFLICT (home_address) "
       "DO UPDATE SET care_of=EXCLUDED.care_of, expires=EXCLUDED.expires, "
       "identification=EXCLUDED.identification, registered=EXCLUDED.registered "
       "WHERE b.identification <= EXCLUDED.identification RETURNING b.home_address) "
       "SELECT i.home_address, m.care_of, m.expires, m.identification, m.registered, i.identification "
       "FROM input i LEFT JOIN mobility_bindings m USING (home_address) "
       "WHERE NOT EXISTS (SELECT 1 FROM written w WHERE w.home_address = i.home_address)"},
      {"batch_put_outbox",
       "INSERT INTO roaming_outbox (node, partner, seq, packet, created) SELECT * FROM unnest($1::text[], "
       "$2::text[], $3::bigint[], $4::text[], $5::bigint[]) ON CONFLICT DO NOTHING"},
      {"batch_delete_outbox",
       "DELETE FROM roaming_outbox o USING unnest($1::text[], $2::text[], $3::bigint[]) AS t(node, partner, "
       "seq) WHERE o.node = t.node AND o.partner = t.partner AND o.seq = t.seq"},
      // A singleton job's write passes its fence first (issue 14 item 5).
      {"fence", "SELECT mobix_fence($1, $2, $3::bigint)"},
  };
  return list;
}

std::vector<Query> batch_queries(const std::vector<Change>& batch, std::int64_t now, Claims* claims) {
  LastPerKey<SessionRecord> sessions, removals;
  LastPerKey<Lease> leases;
  std::map<std::uint64_t, std::uint32_t> seen;                        // tunnel id -> latest expiry
  std::map<std::pair<std::string, std::string>, std::int64_t> ended;  // (nas, acct-session-id) -> when
  std::int64_t forget_ended_before = 0;
  std::map<std::string, const MobilityBinding*> bindings;  // home address -> latest
  std::vector<const OutboxRecord*> outbox_puts, outbox_deletes;
  for (const auto& c : batch) {
    switch (c.kind) {
      case Change::Kind::put_session:
      case Change::Kind::end_session:
        sessions.set(c.session.sid, c.kind == Change::Kind::put_session, &c.session);
        break;
      case Change::Kind::put_lease:
      case Change::Kind::free_lease:
        leases.set(c.lease.pool + "\n" + c.lease.ip, c.kind == Change::Kind::put_lease, &c.lease);
        break;
      case Change::Kind::put_dns_removal:
      case Change::Kind::free_dns_removal:
        removals.set(c.session.sid, c.kind == Change::Kind::put_dns_removal, &c.session);
        break;
      case Change::Kind::put_seen_signal: {
        auto& e = seen[c.signal.tunnel_id];
        e = std::max(e, c.signal.expires);
        break;
      }
      case Change::Kind::put_ended_session:
        ended[{c.ended.nas, c.ended.acct_session_id}] = c.ended.ended;
        forget_ended_before = std::max(forget_ended_before, c.ended.forget_before);
        break;
      case Change::Kind::put_mobility_binding: {
        auto& b = bindings[c.binding.home_address];
        if (!b || b->identification <= c.binding.identification) b = &c.binding;
        break;
      }
      case Change::Kind::put_outbox:
        outbox_puts.push_back(&c.outbox);
        break;
      case Change::Kind::delete_outbox:
        outbox_deletes.push_back(&c.outbox);
        break;
    }
  }
  std::vector<Query> q;
  if (sessions.any(true)) q.push_back(lock_addresses(sessions));
  if (sessions.any(false)) {
    ArrayLiteral sids;
    sessions.each(false, [&](const SessionRecord& r) { sids.add(r.sid); });
    q.push_back({"batch_end_sessions", {sids.str()}});
  }
  if (sessions.any(true)) {
    q.push_back(take_addresses(sessions));
    q.push_back(put_sessions(sessions));
  }
  if (leases.any(false)) {
    ArrayLiteral pool, ip, sub, expires;
    leases.each(false, [&](const Lease& l) {
      pool.add(l.pool), ip.add(l.ip), sub.add(l.subscriber_id), expires.add(l.bound ? 0 : l.expires);
    });
    q.push_back({"batch_free_leases", {pool.str(), ip.str(), sub.str(), expires.str()}});
  }
  if (auto put = lease_rows(leases, false, nullptr)) q.push_back({"batch_put_leases", std::move(*put)});
  if (auto offered = lease_rows(leases, true, claims ? &claims->offered : nullptr)) {
    offered->push_back(std::to_string(now));
    q.push_back({"batch_claim_leases", std::move(*offered), claims ? &claims->returned : nullptr});
  }
  if (removals.any(false)) {
    ArrayLiteral sids;
    removals.each(false, [&](const SessionRecord& r) { sids.add(r.sid); });
    q.push_back({"batch_free_dns_removals", {sids.str()}});
  }
  if (removals.any(true)) {
    ArrayLiteral sid, host, ip;
    removals.each(true,
                  [&](const SessionRecord& r) { sid.add(r.sid), host.add(r.hostname), ip.add(r.ipv4); });
    q.push_back({"batch_put_dns_removals", {sid.str(), host.str(), ip.str()}});
  }
  if (!seen.empty()) {
    ArrayLiteral ids, expires;
    // 64 random bits; BIGINT is signed, the cast round-trips.
    for (auto [id, e] : seen) ids.add(static_cast<std::int64_t>(id)), expires.add(std::int64_t{e});
    q.push_back({"batch_put_seen_signals", {ids.str(), expires.str()}});
    q.push_back({"batch_prune_seen_signals", {std::to_string(now)}});
  }
  if (!ended.empty()) {
    ArrayLiteral nas, asid, when;
    for (const auto& [k, e] : ended) nas.add(k.first), asid.add(k.second), when.add(e);
    q.push_back({"batch_put_ended_sessions", {nas.str(), asid.str(), when.str()}});
  }
  if (forget_ended_before > 0)
    q.push_back({"batch_prune_ended_sessions", {std::to_string(forget_ended_before)}});
  if (!bindings.empty()) {
    ArrayLiteral home, care_of, expires, id, registered;
    for (const auto& [h, b] : bindings)
      home.add(h), care_of.add(b->care_of), expires.add(b->expires),
          id.add(to_ordered_int64(b->identification)), registered.add(b->registered);
    q.push_back({"batch_put_mobility_bindings",
                 {home.str(), care_of.str(), expires.str(), id.str(), registered.str()},
                 claims ? &claims->bindings_returned : nullptr});
  }
  // Puts before deletes: a record is deleted only after the home network answered it, which is
  // after the commit that wrote it.
  if (!outbox_puts.empty()) {
    ArrayLiteral node, partner, seq, packet, created;
    for (const auto* o : outbox_puts)
      node.add(o->node), partner.add(o->partner), seq.add(o->seq), packet.add(o->packet_hex),
          created.add(o->created);
    q.push_back({"batch_put_outbox", {node.str(), partner.str(), seq.str(), packet.str(), created.str()}});
  }
  if (!outbox_deletes.empty()) {
    ArrayLiteral node, partner, seq;
    for (const auto* o : outbox_deletes) node.add(o->node), partner.add(o->partner), seq.add(o->seq);
    q.push_back({"batch_delete_outbox", {node.str(), partner.str(), seq.str()}});
  }
  return q;
}

Refused Claims::refused() const {
  std::set<std::pair<std::string, std::string>> written;
  for (const auto& row : returned)
    if (row.size() == 2) written.emplace(row[0], row[1]);
  Refused out;
  for (const Lease* l : offered)
    if (!written.count({l->pool, l->ip})) out.offers.push_back(*l);
  // Bindings not written: home, the stored care_of, expires, identification, registered (empty when
  // the snapshot did not see the winner), the refused identification.
  for (const auto& row : bindings_returned) {
    if (row.size() != 6) continue;
    auto refused_id = std::stoll(row[5]);
    if (row[3].empty() || std::stoll(row[3]) <= refused_id)
      out.bindings.push_back({row[0], "?", 0, from_ordered_int64(refused_id), 0});
    else
      out.bindings.push_back(
          {row[0], row[1], std::stoll(row[2]), from_ordered_int64(std::stoll(row[3])), std::stoll(row[4])});
  }
  return out;
}

}  // namespace mobix::pg
