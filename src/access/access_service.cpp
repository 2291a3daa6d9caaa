#include "access/access_service.hpp"

#include <algorithm>
#include <cctype>

#include "core/text.hpp"

namespace mobix {

AccessService::AccessService(const AccessConfig& cfg, Directory& dir, SessionTable& table,
                             const RoamingConfig* roaming, BoxRepository* boxes)
    : cfg_(cfg), dir_(dir), table_(table), roaming_(roaming), pools_(cfg.pools) {
  if (boxes && !cfg.provisioning_realm.empty()) config_auth_.emplace(cfg.provisioning_realm, *boxes);
}

std::int64_t AccessService::roamer_id(std::string_view nai) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across restarts and builds
  for (char c : nai) {
    h ^= static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
    h *= 1099511628211ull;
  }
  return -static_cast<std::int64_t>(h & 0x3fffffffffffffffull) - 1;
}

std::string AccessService::realm_of(std::string_view username) {
  auto at = username.rfind('@');
  if (at == std::string_view::npos) return {};
  return ascii_lower(std::string(username.substr(at + 1)));
}

const RoamingPartnerConfig* AccessService::partner_for(std::string_view username) const {
  if (!roaming_) return nullptr;
  auto realm = realm_of(username);
  if (realm.empty()) return nullptr;
  for (const auto& p : roaming_->partners)
    if (p.realm == realm) return &p;
  return nullptr;
}

bool AccessService::is_own_realm(std::string_view username) const {
  auto realm = realm_of(username);
  if (realm.empty() || !roaming_) return true;
  for (const auto& r : roaming_->realms)
    if (r == realm) return true;
  // Boxes configuring (seed 004) and realms with a pool of their own are served here too.
  if (realm == cfg_.provisioning_realm) return true;
  for (const auto& p : cfg_.pools)
    if (!p.realm.empty() && ascii_lower(p.realm) == realm) return true;
  return false;
}

AuthDecision AccessService::offer_roamer(const std::string& nai, const std::string& apn, std::int64_t now) {
  AuthDecision d;
  auto* pool = pools_.select(apn, realm_of(nai));
  if (!pool) {
    d.reason = "no address pool for APN \"" + apn + "\"";
    d.metric_reason = "no_pool";
    return d;
  }
  return offer_from(*pool, roamer_id(nai), now, "roaming, ");
}

AuthDecision AccessService::offer_from(IpPool& pool, std::int64_t key, std::int64_t now,
                                       const std::string& what) {
  AuthDecision d;
  d.subscriber_id = key;
  auto lease = pool.offer(key, now + cfg_.offer_timeout);
  if (!lease) {
    d.reason = "address pool " + pool.config().name + " exhausted";
    d.metric_reason = "pool_exhausted";
    return d;
  }
  d.accept = true;
  d.framed_ip = lease->ip;
  d.reason = what + "pool " + pool.config().name;
  d.changes.push_back(Change{Change::Kind::put_lease, {}, *lease});
  return d;
}

void AccessService::load_leases(const std::vector<Lease>& leases) {
  for (const auto& l : leases)
    if (auto* p = pools_.by_name(l.pool)) p->restore(l);
}

void AccessService::share_pools() {
  for (auto& p : pools_.pools()) p.start_at_random();
}

void AccessService::follow_remote(const std::vector<SessionEvent>& events) {
  for (const auto& e : events) {
    if (e.session.ipv4.empty()) continue;
    auto* p = pools_.owner_of(e.session.ipv4);
    if (!p) continue;
    if (e.kind == SessionEvent::Kind::attach)
      p->bind(e.session.ipv4, e.session.subscriber_id);
    else if (e.kind == SessionEvent::Kind::detach && !table_.find_by_ip(e.session.ipv4))
      p->release(e.session.ipv4);
  }
}

void AccessService::offers_taken(const std::vector<Lease>& taken,
                                 const std::function<std::vector<Lease>(const std::string& pool)>& stored) {
  std::vector<std::string> reloaded;
  for (const auto& l : taken) {
    auto* p = pools_.by_name(l.pool);
    if (!p) continue;
    p->release(l.ip);
    if (std::find(reloaded.begin(), reloaded.end(), l.pool) != reloaded.end()) continue;
    p->adopt(stored(l.pool));
    reloaded.push_back(l.pool);
  }
}

AuthDecision AccessService::authorize_box(const AuthInput& in, std::int64_t now) {
  AuthDecision d;
  bool chap = in.has_credentials && in.pap_password.empty();
  if (auto refusal = config_auth_->check(in.username, in.pap_password, chap, now)) {
    d.reason = refusal->reason;
    d.metric_reason = refusal->metric_reason;
    return d;
  }
  // The configuration pool is the one for this realm (access.pools[].realm): it reaches the
  // configuration service and nothing else (examples/nftables-config-pool.nft).
  auto* pool = pools_.select(in.apn, AccessService::realm_of(in.username));
  if (!pool || pool->config().realm != AccessService::realm_of(in.username)) {
    d.reason = "no configuration address pool for realm " + AccessService::realm_of(in.username);
    d.metric_reason = "no_pool";
    return d;
  }
  return offer_from(*pool, ConfigAuthorizer::lease_key(in.username), now, "configuration log-in, ");
}

std::vector<AccessService::Lookup> AccessService::auth_lookups(const AuthInput& in) const {
  std::vector<Lookup> l;
  if (config_auth_ && config_auth_->handles(in.username)) return l;
  if (!in.username.empty()) {
    l.push_back({IdentityKind::username, in.username});
    // "alice@realm" may be provisioned as "alice" (RFC 7542 NAI).
    if (auto at = in.username.find('@'); at != std::string::npos)
      l.push_back({IdentityKind::username, in.username.substr(0, at)});
    l.push_back({std::nullopt, in.username});
  }
  if (!in.msisdn.empty()) l.push_back({IdentityKind::msisdn, in.msisdn});
  if (!in.imsi.empty()) l.push_back({IdentityKind::imsi, in.imsi});
  return l;
}

std::vector<AccessService::Lookup> AccessService::acct_lookups(const AcctInput& in) const {
  std::vector<Lookup> l;
  if ((config_auth_ && config_auth_->handles(in.username)) || partner_for(in.username)) return l;
  if (!in.msisdn.empty()) l.push_back({IdentityKind::msisdn, in.msisdn});
  if (!in.username.empty()) l.push_back({IdentityKind::username, in.username});
  if (auto at = in.username.find('@'); at != std::string::npos && is_own_realm(in.username))
    l.push_back({IdentityKind::username, in.username.substr(0, at)});
  if (!in.imsi.empty()) l.push_back({IdentityKind::imsi, in.imsi});
  return l;
}

std::optional<Subscriber> AccessService::run_lookups(Directory& dir, const std::vector<Lookup>& lookups) {
  for (const auto& l : lookups)
    if (auto sub = l.kind ? dir.find(*l.kind, l.value) : dir.find(l.value)) return sub;
  return std::nullopt;
}

AuthDecision AccessService::authorize(const AuthInput& in, std::int64_t now) {
  return authorize(in, now, run_lookups(dir_, auth_lookups(in)));
}

AuthDecision AccessService::authorize(const AuthInput& in, std::int64_t now,
                                      const std::optional<Subscriber>& sub) {
  if (config_auth_ && config_auth_->handles(in.username)) return authorize_box(in, now);
  AuthDecision d;
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
  d.hostname = sub->hostname;
  if (in.from_roaming_partner) {
    // Seed 002 [0027]: the right to roam is part of the subscription.
    if (auto it = sub->attrs.find("roaming");
        it != sub->attrs.end() && (it->second == "false" || it->second == "no")) {
      d.reason = "roaming is not part of this subscription";
      d.metric_reason = "roaming_not_allowed";
      return d;
    }
    d.accept = true;  // the visited network assigns the address ([0029])
    d.reason = "roaming";
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
  auto offered = offer_from(*pool, sub->id, now, "");
  offered.hostname = d.hostname;
  return offered;
}

void AccessService::resolve_subscriber(AcctInput& in,
                                       const std::optional<std::optional<Subscriber>>& looked_up) {
  if (config_auth_ && config_auth_->handles(in.username)) {
    in.subscriber_id = ConfigAuthorizer::lease_key(in.username);  // a box configuring (seed 004)
    return;
  }
  if (partner_for(in.username)) {
    // A visiting terminal: our directory does not know it; its pool key follows its NAI.
    in.subscriber_id = roamer_id(in.username);
    return;
  }
  auto sub = looked_up ? *looked_up : run_lookups(dir_, acct_lookups(in));
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

Outcome AccessService::account_start(AcctInput in, std::int64_t now,
                                     const std::optional<std::optional<Subscriber>>& looked_up) {
  resolve_subscriber(in, looked_up);
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

Outcome AccessService::nas_restarted(std::string_view nas, std::string_view nas_address,
                                     std::string_view reason, std::int64_t now) {
  auto out = table_.end_all_of_nas(nas, nas_address, reason, now);
  release_leases(out);
  return out;
}

Outcome AccessService::expire_sessions(std::int64_t now) {
  std::int64_t silent = std::int64_t{cfg_.interim_interval} * cfg_.missed_interims;
  auto out = table_.expire(now - silent);
  release_leases(out);
  return out;
}

Outcome AccessService::expire_offers(std::int64_t now) {
  Outcome out;
  for (auto& p : pools_.pools())
    for (auto& l : p.expire_offers(now)) out.changes.push_back(Change{Change::Kind::free_lease, {}, l});
  return out;
}

Outcome AccessService::purge_ip(std::string_view ip, std::int64_t now) {
  auto out = table_.purge_ip(ip, now);
  release_leases(out);
  return out;
}

}  // namespace mobix
