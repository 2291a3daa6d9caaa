#include "access/access_service.hpp"

namespace mobix {

AccessService::AccessService(const AccessConfig& cfg, Directory& dir, SessionTable& table)
    : cfg_(cfg), dir_(dir), table_(table), pools_(cfg.pools) {}

void AccessService::load_leases(const std::vector<Lease>& leases) {
  for (const auto& l : leases)
    if (auto* p = pools_.by_name(l.pool)) p->restore(l);
}

AuthDecision AccessService::authorize(const AuthInput& in, std::int64_t now) {
  AuthDecision d;
  std::optional<Subscriber> sub;
  if (!in.username.empty()) {
    sub = dir_.find(IdentityKind::username, in.username);
    // "alice@realm" may be provisioned as "alice" (RFC 7542 NAI).
    if (auto at = in.username.find('@'); !sub && at != std::string::npos)
      sub = dir_.find(IdentityKind::username, in.username.substr(0, at));
    if (!sub) sub = dir_.find(in.username);
  }
  if (!sub && !in.msisdn.empty()) sub = dir_.find(IdentityKind::msisdn, in.msisdn);
  if (!sub && !in.imsi.empty()) sub = dir_.find(IdentityKind::imsi, in.imsi);
  if (!sub) {
    d.reason = "unknown subscriber";
    d.metric_reason = "unknown_subscriber";
    return d;
  }
  d.subscriber_id = sub->id;
  if (!in.has_credentials) {
    d.reason = "no User-Password or CHAP-Password in the request";
    d.metric_reason = "no_credentials";
    return d;
  }
  if (sub->password.empty()) {
    d.reason = "no access credentials provisioned for this subscriber";
    d.metric_reason = "not_provisioned";
    return d;
  }
  if (!in.check_password(sub->password)) {
    d.reason = "authentication failed";
    d.metric_reason = "bad_password";
    return d;
  }
  if (!sub->framed_ip.empty()) {
    d.accept = true;
    d.framed_ip = sub->framed_ip;
    d.reason = "fixed address";
    return d;
  }
  std::string realm;
  if (auto at = in.username.find('@'); at != std::string::npos) realm = in.username.substr(at + 1);
  auto* pool = pools_.select(in.apn, realm);
  if (!pool) {
    d.reason = "no address pool for APN \"" + in.apn + "\"";
    d.metric_reason = "no_pool";
    return d;
  }
  auto lease = pool->offer(sub->id, now + cfg_.offer_timeout);
  if (!lease) {
    d.reason = "address pool " + pool->config().name + " exhausted";
    d.metric_reason = "pool_exhausted";
    return d;
  }
  d.accept = true;
  d.framed_ip = lease->ip;
  d.reason = "pool " + pool->config().name;
  d.changes.push_back(Change{Change::Kind::put_lease, {}, *lease});
  return d;
}

void AccessService::resolve_subscriber(AcctInput& in) {
  std::optional<Subscriber> sub;
  if (!in.msisdn.empty()) sub = dir_.find(IdentityKind::msisdn, in.msisdn);
  if (!sub && !in.username.empty()) sub = dir_.find(IdentityKind::username, in.username);
  if (!sub && !in.imsi.empty()) sub = dir_.find(IdentityKind::imsi, in.imsi);
  if (!sub) return;
  in.subscriber_id = sub->id;
  // The directory fills identities the NAS did not send.
  if (in.msisdn.empty()) in.msisdn = sub->msisdn;
  if (in.imsi.empty()) in.imsi = sub->imsi;
  if (in.hostname.empty()) in.hostname = sub->hostname;
}

void AccessService::release_leases(Outcome& out) {
  for (const auto& e : out.events) {
    if (e.kind != SessionEvent::Kind::detach || e.session.ipv4.empty()) continue;
    // Only free the address if no live session still holds it (takeover keeps it in use).
    if (table_.find_by_ip(e.session.ipv4)) continue;
    if (auto* p = pools_.owner_of(e.session.ipv4); p && p->release(e.session.ipv4))
      out.changes.push_back(
          Change{Change::Kind::free_lease, {}, Lease{p->config().name, e.session.ipv4, 0, false, 0}});
  }
}

Outcome AccessService::account_start(AcctInput in, std::int64_t now) {
  resolve_subscriber(in);
  auto out = table_.start(in, now);
  release_leases(out);
  if (!in.ipv4.empty())
    if (auto* p = pools_.owner_of(in.ipv4))
      if (auto l = p->bind(in.ipv4, in.subscriber_id))
        out.changes.push_back(Change{Change::Kind::put_lease, {}, *l});
  return out;
}

Outcome AccessService::account_interim(AcctInput in, std::int64_t now) {
  if (!in.ipv4.empty() && table_.find_by_ip(in.ipv4, in.context())) return table_.interim(in, now);
  return account_start(std::move(in), now);
}

Outcome AccessService::account_stop(const AcctInput& in, std::int64_t now) {
  auto out = table_.stop(in, now);
  release_leases(out);
  return out;
}

Outcome AccessService::nas_restarted(std::string_view nas, std::string_view reason) {
  auto out = table_.end_all_of_nas(nas, reason);
  release_leases(out);
  return out;
}

Outcome AccessService::sweep(std::int64_t now) {
  std::int64_t silent = std::int64_t{cfg_.interim_interval} * cfg_.missed_interims;
  auto out = table_.expire(now - silent);
  release_leases(out);
  for (auto& p : pools_.pools())
    for (auto& l : p.expire_offers(now)) out.changes.push_back(Change{Change::Kind::free_lease, {}, l});
  return out;
}

Outcome AccessService::purge_ip(std::string_view ip) {
  auto out = table_.purge_ip(ip);
  release_leases(out);
  return out;
}

}  // namespace mobix
