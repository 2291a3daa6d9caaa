// Accounting-Request -> session changes (RFC 2866), durable before the Accounting-Response;
// replayed or stale requests refused (issue 12 item 2); roaming partners' accounting checked
// (seed 002 [0029]) and roamers' accounting forwarded to their home networks ([0033]).
#include <set>

#include <spdlog/spdlog.h>

#include "access/radius_server_impl.hpp"

namespace mobix {

namespace {
constexpr std::int64_t kMaxClockSkew = 300;  ///< an Event-Timestamp this far ahead is still "now"

AcctInput read_accounting(const radius::Packet& req, const std::string& peer) {
  AcctInput in;
  in.nas =
      req.text(radius::attr::nas_identifier).value_or(req.ipv4(radius::attr::nas_ip_address).value_or(peer));
  in.apn = req.text(radius::attr::called_station_id).value_or("");
  in.ipv4 = req.ipv4(radius::attr::framed_ip_address).value_or("");
  in.ipv6_prefix = req.ipv6_prefix().value_or("");
  in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
  in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
  in.username = req.text(radius::attr::user_name).value_or("");
  in.acct_session_id = req.text(radius::attr::acct_session_id).value_or("");
  return in;
}
}  // namespace

const char* AccessRole::Impl::read_event_time(const radius::Packet& req, radius::AcctStatus st,
                                              std::int64_t now, AcctInput& in) {
  // RFC 2869 5.3 Event-Timestamp, else arrival less RFC 2866 5.2 Acct-Delay-Time.
  const auto stamp = req.integer(radius::attr::event_timestamp);
  const std::int64_t delay = req.integer(radius::attr::acct_delay_time).value_or(0);
  in.event_time_from_nas = stamp.has_value();
  in.event_time = stamp ? std::int64_t{*stamp} : now - delay;
  if (st == radius::AcctStatus::stop) return nullptr;  // ends only its own session; a late Stop is fine
  const std::int64_t max_age = cfg.accounting_max_age;
  if (delay > max_age) return "stale_delay";
  if (stamp && (now - *stamp > max_age || *stamp - now > kMaxClockSkew)) return "stale_timestamp";
  return nullptr;
}

bool AccessRole::Impl::refuse_partner_accounting(const RoamingPartnerConfig& partner, const AcctInput& in,
                                                 radius::AcctStatus st) {
  roaming::HomeSide::AccountingRequest req;
  req.username = in.username;
  req.status = st;
  req.own_realm = !AccessService::realm_of(in.username).empty() && service.is_own_realm(in.username);
  req.session_known = !in.ipv4.empty() && table.find_by_ip(in.ipv4, in.context());
  if (home.may_account(partner.name, req)) return false;
  metrics()
      .counter("mobix_roaming_accounting_refused_total",
               "Accounting from roaming partners for terminals we did not authenticate")
      .inc();
  spdlog::warn("radsec acct from partner {}: user {} was not authenticated here; nothing recorded",
               partner.name, in.username);
  return true;
}

Outcome AccessRole::Impl::apply_accounting(const AcctInput& in, std::uint32_t status, bool refused,
                                           std::int64_t now, const LookedUp& looked_up) {
  switch (refused ? radius::AcctStatus{0} : static_cast<radius::AcctStatus>(status)) {
    case radius::AcctStatus::start:
      return service.account_start(in, now, looked_up);
    case radius::AcctStatus::interim_update:
      return service.account_interim(in, now);
    case radius::AcctStatus::stop:
      return service.account_stop(in, now);
    case radius::AcctStatus::accounting_on:
      return service.nas_restarted(in.nas, in.nas_address, "accounting-on", now);
    case radius::AcctStatus::accounting_off:
      return service.nas_restarted(in.nas, in.nas_address, "accounting-off", now);
    default: {
      Outcome out;
      out.note = "Acct-Status-Type " + std::to_string(status) + (refused ? " refused" : " ignored");
      return out;
    }
  }
}

void AccessRole::Impl::count_outcome(const radius::Packet& req, const AcctInput& in, const char* stale,
                                     Outcome& out) {
  if (stale) {
    out.refused = stale;
    out.note = fmt::format(
        "Event-Timestamp {} / Acct-Delay-Time {}: older than accounting_max_age or from the future, refused "
        "as a "
        "replay",
        req.integer(radius::attr::event_timestamp).value_or(0),
        req.integer(radius::attr::acct_delay_time).value_or(0));
  }
  if (!out.refused.empty()) {
    metrics()
        .counter("mobix_access_accounting_refused_total",
                 "Accounting-Requests refused as unsafe (replays, stale Starts, another client's sessions)",
                 fmt::format("reason=\"{}\"", out.refused))
        .inc();
    spdlog::warn("radius acct from {} ({}): {} (acct-session-id={} ip={})", in.nas, in.nas_address, out.note,
                 in.acct_session_id, in.ipv4);
  } else if (!out.note.empty()) {
    metrics().counter("mobix_access_accounting_noop_total", "Accounting-Requests that changed nothing").inc();
    spdlog::info("radius acct from {}: {} (acct-session-id={} ip={})", in.nas, out.note, in.acct_session_id,
                 in.ipv4);
  }
}

void AccessRole::Impl::process_acct(std::span<const std::uint8_t> raw, const Source& src) {
  auto decoded = radius::decode(raw);
  if (!decoded)
    return drop("acct", std::string("malformed_") + std::string(radius::to_string(decoded.error())),
                src.peer);
  auto& req = *decoded;
  if (req.code != radius::Code::accounting_request) return drop("acct", "unexpected_code", src.peer);
  if (!radius::verify_accounting_request(raw.subspan(0, (std::size_t{raw[2]} << 8) | raw[3]), src.secret))
    return drop("acct", "bad_authenticator", src.peer);
  auto status = req.integer(radius::attr::acct_status_type);
  if (!status) return drop("acct", "no_acct_status_type", src.peer);

  process_once(acct_cache, src, req, [&](const std::string& key) { account(req, src, key); });
}

void AccessRole::Impl::account(const radius::Packet& req, const Source& src, const std::string& key,
                               const LookedUp& looked_up) {
  const auto status = req.integer(radius::attr::acct_status_type);  // present: checked before
  AcctInput in = read_accounting(req, src.peer);
  if (!looked_up && lookup_pool && *status == static_cast<std::uint32_t>(radius::AcctStatus::start)) {
    // LDAP: a Start's subscriber is asked on the lookup pool (account_start enriches the session).
    if (auto lookups = service.acct_lookups(in); !lookups.empty())
      return look_up(std::move(lookups), "acct", acct_cache, src, key,
                     [this, req, src, key](LookedUp found) { account(req, src, key, found); });
  }
  bool roamer = roaming && !src.partner && service.partner_for(in.username);
  if (auto cls = req.text(radius::attr::class_); roamer && cls)
    if (auto host = roaming::hostname_from_class(*cls)) in.hostname = *host;

  auto st = static_cast<radius::AcctStatus>(*status);
  auto now = clock();
  in.nas_address = src.partner ? "radsec:" + src.partner->name : src.peer;
  const char* stale = read_event_time(req, st, now, in);
  bool refused = stale != nullptr;
  if (src.partner && !refused) {
    // Home side: the session lives in the partner's network; it is ours to publish only if
    // we authenticated the terminal (seed 002: nothing is written for anyone else).
    in.nas = "roaming:" + src.partner->name;
    in.apn.clear();
    refused = refuse_partner_accounting(*src.partner, in, st);
  }
  Outcome out = apply_accounting(in, *status, refused, now, looked_up);
  status_counter(*status).inc();
  count_outcome(req, in, stale, out);
  auto owed = owe_home(out.events, out.changes);
  // The home network follows its roamers' interims too, or it would expire them.
  if (roamer && st == radius::AcctStatus::interim_update && out.note.empty())
    if (auto s = table.find_by_ip(in.ipv4, in.context()))
      owe_home(*s, radius::AcctStatus::interim_update, owed, out.changes);
  radius::Packet resp;
  resp.code = radius::Code::accounting_response;
  resp.identifier = req.identifier;
  auto bytes = std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, src.secret));
  journal(out);
  auto events = std::move(out.events);
  // Durable before the Accounting-Response (RFC 2866 2: the server must record it first).
  commit(
      std::move(out.changes),
      [this, key, bytes, reply = src.reply, events = std::move(events), owed = std::move(owed)] {
        publish(events, owed);
        acct_cache.answered(key, bytes);
        reply(bytes);
      },
      [this, key] { acct_cache.forget(key); });
}

void AccessRole::Impl::journal(Outcome& out) {
  for (const auto& e : out.events)
    if (e.kind == SessionEvent::Kind::detach && table.end_journaled(e.session))
      out.changes.push_back(Change{Change::Kind::put_dns_removal, e.session, {}});
}

void AccessRole::Impl::publish(const std::vector<SessionEvent>& events, std::vector<OutboxRecord> owed) {
  log_events(events);
  table.publish(events);
  if (visited && !owed.empty()) visited->deliver(std::move(owed));
}

std::vector<OutboxRecord> AccessRole::Impl::owe_home(const std::vector<SessionEvent>& events,
                                                     std::vector<Change>& changes) {
  std::vector<OutboxRecord> owed;
  for (const auto& e : events)
    owe_home(e.session,
             e.kind == SessionEvent::Kind::attach ? radius::AcctStatus::start : radius::AcctStatus::stop,
             owed, changes);
  return owed;
}

void AccessRole::Impl::owe_home(const SessionRecord& s, radius::AcctStatus status,
                                std::vector<OutboxRecord>& owed, std::vector<Change>& changes) {
  if (!visited) return;
  const auto* partner = service.partner_for(s.username);
  if (!partner || !visited->home(partner)) return;
  auto record = visited->accounting_record(*partner, s, status);
  if (outbox) {
    Change c{Change::Kind::put_outbox, {}, {}};
    c.outbox = record;
    changes.push_back(std::move(c));
  }
  owed.push_back(std::move(record));
}

void AccessRole::Impl::log_events(const std::vector<SessionEvent>& events) {
  for (const auto& e : events) {
    event_counter(e).inc();
    spdlog::info("session {} {}: msisdn={} ip={}{} apn={} nas={} acct-session-id={} ({})",
                 e.kind == SessionEvent::Kind::attach ? "attach" : "detach", e.session.sid, e.session.msisdn,
                 e.session.ipv4, e.session.ipv6_prefix.empty() ? "" : " ipv6=" + e.session.ipv6_prefix,
                 e.session.apn, e.session.nas, e.session.acct_session_id, e.reason);
  }
}

Counter& AccessRole::Impl::status_counter(std::uint32_t status) {
  // The label takes the RFC 2866 5.1 values only: an authenticated NAS sending arbitrary numbers
  // must not create unbounded series.
  static const std::set<std::uint32_t> known{1, 2, 3, 7, 8, 15};
  if (!known.count(status)) status = 0;
  auto& c = status_counters[status];
  if (!c)
    c = &metrics().counter("mobix_radius_accounting_total",
                           "Accounting-Requests processed, by Acct-Status-Type (0: any other value)",
                           fmt::format("status=\"{}\"", status));
  return *c;
}

Counter& AccessRole::Impl::event_counter(const SessionEvent& e) {
  const char* kind = e.kind == SessionEvent::Kind::attach ? "attach" : "detach";
  auto& c = event_counters[std::string(kind) + "/" + e.reason];
  if (!c)
    c = &metrics().counter("mobix_access_session_events_total", "Session attach/detach events",
                           fmt::format("kind=\"{}\",reason=\"{}\"", kind, e.reason));
  return *c;
}

void AccessRole::Impl::schedule_sweep() {
  sweep_timer.expires_after(std::chrono::seconds(5));
  sweep_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    auto offers = service.expire_offers(clock());
    commit(std::move(offers.changes), [] {}, {});
    // Session expiry runs on one node at a time (issue 14 item 5); the others hear of the ends
    // through the store. Its writes carry the lease: a node that stalled past it cannot write.
    std::optional<JobLease> fence;
    if (jobs && !(fence = jobs->held(kExpiryJob))) return schedule_sweep();
    auto out = service.expire_sessions(clock());
    journal(out);
    auto events = out.events;
    auto owed = owe_home(events, out.changes);
    commit(
        std::move(out.changes), [this, events, owed] { publish(events, owed); }, {}, {}, std::move(fence));
    schedule_sweep();
  });
}

}  // namespace mobix
