#include "access/radius_server.hpp"

#include <array>
#include <cctype>
#include <chrono>
#include <deque>
#include <map>
#include <set>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "access/dedup_cache.hpp"
#include "codec/radius/radius.hpp"
#include "codec/radius/radsec.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/runtime.hpp"
#include "core/text.hpp"
#include "roaming/radsec.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::udp;
using Bytes = std::vector<std::uint8_t>;

namespace {

std::string metric_labels(std::string_view listener, std::string_view reason) {
  return fmt::format("listener=\"{}\",reason=\"{}\"", listener, reason);
}

}  // namespace

struct AccessRole::Impl {
  const RoamingConfig* roaming;  ///< null: no roaming partners
  asio::io_context& io;
  const AccessConfig& cfg;
  Directory& dir;
  SessionRepository& repo;
  StoreWriter& writer;
  Clock clock;
  SessionTable table;
  AccessService service;
  udp::socket auth_sock;
  udp::socket acct_sock;
  asio::steady_timer sweep_timer;
  Gate gate;
  bool stopping = false;
  DedupCache auth_cache;
  DedupCache acct_cache;
  LogRateLimiter log_limit{5};

  Counter& requests_auth =
      metrics().counter("mobix_radius_requests_total", "RADIUS requests received", "listener=\"auth\"");
  Counter& requests_acct =
      metrics().counter("mobix_radius_requests_total", "RADIUS requests received", "listener=\"acct\"");
  Counter& accepts = metrics().counter("mobix_radius_access_accepts_total", "Access-Accepts sent");
  Counter& duplicates = metrics().counter("mobix_radius_duplicates_total",
                                          "Retransmissions answered from the cache (RFC 5080)");

  /// Visited side: one RadSec client per partner we send roamers' requests to (seed 002 [0028]).
  struct Partner {
    std::unique_ptr<roaming::RadsecClient> client;
    std::deque<radius::Packet> acct_queue;  ///< accounting for the home network, in order
    bool forwarding = false;
  };
  std::map<std::string, Partner> partners_out;
  std::unique_ptr<roaming::RadsecServer> radsec_server;  ///< home side
  /// Home side: (partner, NAI) pairs we authenticated; only those may start sessions here.
  std::set<std::string> roaming_authenticated;
  /// Ended sessions whose records an external DNS server must still drop are written in the same
  /// transaction as their end, so a crash before the server answers cannot leave them behind.
  void journal(Outcome& out) {
    for (const auto& e : out.events)
      if (e.kind == SessionEvent::Kind::detach && table.end_journaled(e.session))
        out.changes.push_back(Change{Change::Kind::put_dns_removal, e.session, {}});
  }

  Impl(asio::io_context& io_, const AccessConfig& cfg_, Directory& dir_, SessionRepository& repo_,
       StoreWriter& w, Clock c, const RoamingConfig* roaming_cfg)
      : roaming(roaming_cfg),
        io(io_),
        cfg(cfg_),
        dir(dir_),
        repo(repo_),
        writer(w),
        clock(c ? std::move(c) : Clock([] { return static_cast<std::int64_t>(std::time(nullptr)); })),
        service(cfg_, dir_, table, roaming_cfg),
        auth_sock(io_),
        acct_sock(io_),
        sweep_timer(io_),
        auth_cache(std::chrono::seconds(cfg_.duplicate_cache_seconds)),
        acct_cache(std::chrono::seconds(cfg_.duplicate_cache_seconds)) {
    metrics().gauge("mobix_access_sessions", "Live access sessions", [this] { return double(table.size()); });
  }

  // A malformed packet, a wrong secret or an unknown client is dropped without a response,
  // counted per reason and logged at a limited rate.
  void drop(std::string_view listener, std::string_view reason, const udp::endpoint& from) {
    drop(listener, reason, from.address().to_string());
  }
  void drop(std::string_view listener, std::string_view reason, const std::string& from) {
    metrics()
        .counter("mobix_radius_dropped_total", "RADIUS packets dropped without a response, by reason",
                 metric_labels(listener, reason))
        .inc();
    auto suppressed = log_limit.allow(reason);
    if (suppressed >= 0)
      spdlog::warn("radius {}: dropped packet from {}: {}{}", listener, from, reason,
                   suppressed ? fmt::format(" ({} similar suppressed)", suppressed) : std::string());
  }

  const RadiusClientConfig* client_for(const asio::ip::address& a) const {
    for (const auto& c : cfg.clients)
      if (c.network.contains(a)) return &c;
    return nullptr;
  }

  void send(udp::socket& sock, const udp::endpoint& to, DedupCache::Response bytes) {
    sock.async_send_to(asio::buffer(*bytes), to, [bytes](const boost::system::error_code& ec, std::size_t) {
      if (ec && ec != asio::error::operation_aborted) spdlog::warn("radius: send failed: {}", ec.message());
    });
  }

  /// Commits `changes`, then runs `then` on the io thread (only if the commit succeeded).
  void commit(std::vector<Change> changes, std::function<void()> then, std::function<void()> on_failure) {
    if (changes.empty()) {
      then();
      return;
    }
    auto pass = std::make_shared<Gate::Pass>(gate.enter());
    writer.submit(std::move(changes),
                  [this, pass, then = std::move(then), on_failure = std::move(on_failure)](bool ok) {
                    asio::post(io, [pass, ok, then, on_failure] {
                      if (ok)
                        then();
                      else if (on_failure)
                        on_failure();
                    });
                  });
  }

  // Hot-path counters are looked up once, not formatted per request.
  std::unordered_map<std::uint32_t, Counter*> status_counters;
  std::unordered_map<std::string, Counter*> event_counters;
  Counter& status_counter(std::uint32_t status) {
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
  Counter& event_counter(const SessionEvent& e) {
    const char* kind = e.kind == SessionEvent::Kind::attach ? "attach" : "detach";
    auto& c = event_counters[std::string(kind) + "/" + e.reason];
    if (!c)
      c = &metrics().counter("mobix_access_session_events_total", "Session attach/detach events",
                             fmt::format("kind=\"{}\",reason=\"{}\"", kind, e.reason));
    return *c;
  }

  void log_events(const std::vector<SessionEvent>& events) {
    for (const auto& e : events) {
      event_counter(e).inc();
      spdlog::info("session {} {}: msisdn={} ip={}{} apn={} nas={} acct-session-id={} ({})",
                   e.kind == SessionEvent::Kind::attach ? "attach" : "detach", e.session.sid,
                   e.session.msisdn, e.session.ipv4,
                   e.session.ipv6_prefix.empty() ? "" : " ipv6=" + e.session.ipv6_prefix, e.session.apn,
                   e.session.nas, e.session.acct_session_id, e.reason);
    }
  }

  asio::awaitable<void> receive_loop(udp::socket& sock, bool accounting) {
    std::array<std::uint8_t, radius::kMaxPacketSize + 1> buf;
    udp::endpoint from;
    const char* name = accounting ? "acct" : "auth";
    for (;;) {
      auto [ec, n] =
          co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (stopping || !sock.is_open() || ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // e.g. ICMP port unreachable reported on a previous send
      try {
        std::span<const std::uint8_t> raw(buf.data(), n);
        if (accounting)
          handle_acct(raw, from);
        else
          handle_auth(raw, from);
      } catch (const std::exception& e) {
        drop(name, "internal_error", from);
        spdlog::error("radius {}: error handling packet from {}: {}", name, from.address().to_string(),
                      e.what());
      }
    }
  }

  /// Where a request came from and where its answer goes: a NAS over UDP, or a roaming
  /// partner's visited network over RadSec (then `partner` is set and the secret is "radsec").
  struct Source {
    std::string key;     ///< dedup key prefix
    std::string secret;  ///< never logged
    std::string peer;    ///< for logs
    const RoamingPartnerConfig* partner = nullptr;
    std::function<void(DedupCache::Response)> reply;
  };

  Source udp_source(const RadiusClientConfig& client, const udp::endpoint& from, bool accounting) {
    Source src;
    src.key = from.address().to_string() + ":" + std::to_string(from.port());
    src.secret = client.secret;
    src.peer = from.address().to_string();
    auto& sock = accounting ? acct_sock : auth_sock;
    src.reply = [this, &sock, from](DedupCache::Response bytes) { send(sock, from, std::move(bytes)); };
    return src;
  }

  static std::string dedup_key(const std::string& prefix, const radius::Packet& p) {
    std::string k = prefix;
    k += ':';
    k += static_cast<char>(static_cast<std::uint8_t>(p.code));
    k += static_cast<char>(p.identifier);
    k.append(reinterpret_cast<const char*>(p.authenticator.data()), p.authenticator.size());
    return k;
  }

  /// RFC 5080 2.2.2: true when `key` was seen before (answered again from the cache, or
  /// still in flight and dropped); otherwise records it as in flight.
  bool is_duplicate(DedupCache& cache, const Source& src, const std::string& key) {
    DedupCache::Response cached;
    auto state = cache.check(key, cached);
    if (state == DedupCache::State::miss) return false;
    duplicates.inc();
    if (state == DedupCache::State::answered) src.reply(cached);
    return true;
  }

  void handle_auth(std::span<const std::uint8_t> raw, const udp::endpoint& from) {
    requests_auth.inc();
    const auto* client = client_for(from.address());
    if (!client) return drop("auth", "unknown_client", from);
    if (writer.pending() >= cfg.max_pending_writes) return drop("auth", "overloaded", from);
    process_auth(raw, udp_source(*client, from, false));
  }

  void handle_acct(std::span<const std::uint8_t> raw, const udp::endpoint& from) {
    requests_acct.inc();
    const auto* client = client_for(from.address());
    if (!client) return drop("acct", "unknown_client", from);
    // Above capacity (issue 12 item 9): the store is behind by max_pending_writes requests. Dropped
    // unanswered and counted, so the NAS retransmits later (RFC 5080 2.2.1) or fails over; no
    // unbounded queue grows in memory, and lookups for everyone else stay fast.
    if (writer.pending() >= cfg.max_pending_writes) return drop("acct", "overloaded", from);
    process_acct(raw, udp_source(*client, from, true));
  }

  /// Home side: a request from a partner's visited network over RadSec.
  void handle_radsec(const RoamingPartnerConfig& partner, const roaming::Bytes& raw,
                     std::function<void(roaming::Bytes)> reply) {
    Source src;
    src.key = "radsec:" + partner.name;
    src.secret = std::string(radius::kRadsecSecret);
    src.peer = "partner " + partner.name;
    src.partner = &partner;
    src.reply = [reply = std::move(reply)](DedupCache::Response bytes) { reply(*bytes); };
    try {
      if (raw.size() >= 1 && raw[0] == static_cast<std::uint8_t>(radius::Code::accounting_request)) {
        requests_acct.inc();
        process_acct(raw, src);
      } else {
        requests_auth.inc();
        process_auth(raw, src);
      }
    } catch (const std::exception& e) {
      drop("radsec", "internal_error", src.peer);
      spdlog::error("radsec: error handling a request from {}: {}", partner.name, e.what());
    }
  }

  std::string roaming_key(const RoamingPartnerConfig& p, const std::string& username) {
    return p.name + "\n" + ascii_lower(username);
  }

  void reject_count(const std::string& reason) {
    metrics()
        .counter("mobix_radius_access_rejects_total", "Access-Rejects sent, by reason",
                 fmt::format("reason=\"{}\"", reason))
        .inc();
  }

  /// Encodes the answer, makes `changes` durable, then sends it (and caches it for retransmissions).
  void answer_auth(const radius::Packet& req, const Source& src, const std::string& key, radius::Packet resp,
                   std::vector<Change> changes, std::function<void()> after = {}) {
    resp.identifier = req.identifier;
    resp.add_message_authenticator();
    auto bytes = std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, src.secret));
    commit(
        std::move(changes),
        [this, key, bytes, reply = src.reply, after = std::move(after)] {
          if (after) after();
          auth_cache.answered(key, bytes);
          reply(bytes);
        },
        [this, key] { auth_cache.forget(key); });
  }

  void process_auth(std::span<const std::uint8_t> raw, const Source& src) {
    auto decoded = radius::decode(raw);
    if (!decoded)
      return drop("auth", std::string("malformed_") + std::string(radius::to_string(decoded.error())),
                  src.peer);
    auto& req = *decoded;
    if (req.code != radius::Code::access_request) return drop("auth", "unexpected_code", src.peer);
    // RFC 3579 3.2 / BlastRADIUS: check Message-Authenticator before anything else. Over
    // RadSec the TLS connection protects the packet (RFC 6614 2.3), so it may be absent.
    auto ma = radius::check_request_message_authenticator(raw, src.secret);
    if (ma == radius::MessageAuthenticatorCheck::invalid)
      return drop("auth", "bad_message_authenticator", src.peer);
    if (ma == radius::MessageAuthenticatorCheck::absent && cfg.require_message_authenticator && !src.partner)
      return drop("auth", "missing_message_authenticator", src.peer);

    auto key = dedup_key(src.key, req);
    if (is_duplicate(auth_cache, src, key)) return;

    AuthInput in;
    in.username = req.text(radius::attr::user_name).value_or("");
    in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
    in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
    in.apn = req.text(radius::attr::called_station_id).value_or("");
    std::string plain_password;
    if (const auto* pw = req.find(radius::attr::user_password)) {
      auto plain = radius::unhide_password(pw->value, req.authenticator, src.secret);
      if (!plain) {
        auth_cache.forget(key);
        return drop("auth", "malformed_user_password", src.peer);
      }
      plain_password = *plain;
      in.has_credentials = true;
      in.check_password = [p = *plain](const std::string& stored) {
        return radius::constant_time_equal(
            std::span(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()),
            std::span(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size()));
      };
    } else if (req.find(radius::attr::chap_password)) {
      in.has_credentials = true;
      in.check_password = [&req](const std::string& stored) { return radius::verify_chap(req, stored); };
    }

    radius::Packet resp;
    if (roaming && !src.partner && !service.is_own_realm(in.username)) {
      // Visited side (seed 002 [0028]): a terminal from another network. Its home network
      // authenticates it, over RadSec, if we have a roaming agreement with its realm.
      const auto* partner = service.partner_for(in.username);
      auto it = partner ? partners_out.find(partner->name) : partners_out.end();
      if (it == partners_out.end()) {
        auto realm = AccessService::realm_of(in.username);
        resp.code = radius::Code::access_reject;
        resp.add_text(radius::attr::reply_message, "no roaming agreement with realm " + realm);
        reject_count("no_roaming_agreement");
        spdlog::info("radius auth: reject user={} msisdn={}: no roaming agreement with realm {}", in.username,
                     in.msisdn, realm);
        return answer_auth(req, src, key, std::move(resp), {});
      }
      asio::co_spawn(io, proxy_auth(req, plain_password, src, key, it->second.client.get()), asio::detached);
      return;
    }
    if (src.partner) {
      // Home side: only our own realms, and the answer carries the host name (seed 002 [0029]).
      if (AccessService::realm_of(in.username).empty() || !service.is_own_realm(in.username)) {
        resp.code = radius::Code::access_reject;
        resp.add_text(radius::attr::reply_message, "realm not served by this home network");
        reject_count("foreign_realm");
        return answer_auth(req, src, key, std::move(resp), {});
      }
      in.from_roaming_partner = true;
    }

    auto d = service.authorize(in, clock());
    std::function<void()> after;
    if (d.accept) {
      resp.code = radius::Code::access_accept;
      if (!d.framed_ip.empty()) resp.add_ipv4(radius::attr::framed_ip_address, d.framed_ip);
      resp.add_integer(radius::attr::acct_interim_interval, cfg.interim_interval);
      if (src.partner) {
        if (!d.hostname.empty())
          resp.add_vendor_text(radius::kVendorMobix, radius::kMobixHostname, d.hostname);
        after = [this, k = roaming_key(*src.partner, in.username)] { roaming_authenticated.insert(k); };
      }
      accepts.inc();
      spdlog::info("radius auth: accept user={} msisdn={} apn={} ip={} ({}){}", in.username, in.msisdn,
                   in.apn, d.framed_ip, d.reason,
                   src.partner ? " for roaming partner " + src.partner->name : "");
    } else {
      resp.code = radius::Code::access_reject;
      resp.add_text(radius::attr::reply_message, d.reason);
      reject_count(d.metric_reason);
      spdlog::info("radius auth: reject user={} msisdn={} apn={}: {}{}", in.username, in.msisdn, in.apn,
                   d.reason, src.partner ? " (asked by roaming partner " + src.partner->name + ")" : "");
    }
    answer_auth(req, src, key, std::move(resp), std::move(d.changes), std::move(after));
  }

  /// Visited side: asks the home network, then assigns the address from our pool.
  asio::awaitable<void> proxy_auth(radius::Packet req, std::string password, Source src, std::string key,
                                   roaming::RadsecClient* client) {
    auto pass = gate.enter();
    if (!pass) co_return;
    radius::Packet fwd;
    fwd.code = radius::Code::access_request;
    for (const auto& a : req.attributes)
      if (a.type != radius::attr::user_password && a.type != radius::attr::message_authenticator)
        fwd.attributes.push_back(a);
    // CHAP without CHAP-Challenge uses the Request Authenticator, which changes hop by hop.
    if (req.find(radius::attr::chap_password) && !req.find(radius::attr::chap_challenge))
      fwd.add(radius::attr::chap_challenge, req.authenticator);
    const auto& partner = client->partner();
    auto answer = co_await client->exchange(fwd, password);
    auto username = req.text(radius::attr::user_name).value_or("");
    auto apn = req.text(radius::attr::called_station_id).value_or("");
    radius::Packet resp;
    std::vector<Change> changes;
    if (!answer) {
      resp.code = radius::Code::access_reject;
      resp.add_text(radius::attr::reply_message, "home network " + partner.name + " did not answer");
      reject_count("home_unreachable");
      spdlog::warn("radius auth: reject user={}: home network {} did not answer", username, partner.name);
    } else if (answer->code != radius::Code::access_accept) {
      resp.code = radius::Code::access_reject;
      resp.add_text(radius::attr::reply_message,
                    answer->text(radius::attr::reply_message).value_or("rejected by the home network"));
      reject_count("home_reject");
      spdlog::info("radius auth: reject user={}: home network {} said no", username, partner.name);
    } else {
      auto hostname = answer->vendor_text(radius::kVendorMobix, radius::kMobixHostname).value_or("");
      auto d = service.offer_roamer(username, apn, clock());
      if (!d.accept) {
        resp.code = radius::Code::access_reject;
        resp.add_text(radius::attr::reply_message, d.reason);
        reject_count(d.metric_reason);
      } else {
        resp.code = radius::Code::access_accept;
        resp.add_ipv4(radius::attr::framed_ip_address, d.framed_ip);
        resp.add_integer(radius::attr::acct_interim_interval, cfg.interim_interval);
        // RFC 2865 5.25: the NAS echoes Class in its accounting, so the session learns the
        // host name the home network vouched for without any state kept here.
        if (!hostname.empty()) {
          resp.add_text(radius::attr::class_, kHostClassPrefix + hostname);
          resp.add_vendor_text(radius::kVendorMobix, radius::kMobixHostname, hostname);
        }
        changes = std::move(d.changes);
        accepts.inc();
        spdlog::info("radius auth: accept roaming user={} ip={} host={} (home network {})", username,
                     d.framed_ip, hostname, partner.name);
      }
    }
    answer_auth(req, src, key, std::move(resp), std::move(changes));
  }

  static constexpr const char* kHostClassPrefix = "mobix-host:";
  static constexpr std::int64_t kMaxClockSkew = 300;  ///< an Event-Timestamp this far ahead is still "now"

  /// When the request's event happened (RFC 2869 5.3 Event-Timestamp, else arrival less RFC 2866
  /// 5.2 Acct-Delay-Time), into `in`. For what can start or end sessions, a refusal reason when it
  /// is older than accounting_max_age (or from the future): a captured request replayed later.
  const char* read_event_time(const radius::Packet& req, radius::AcctStatus st, std::int64_t now,
                              AcctInput& in) {
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

  void process_acct(std::span<const std::uint8_t> raw, const Source& src) {
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

    auto key = dedup_key(src.key, req);
    if (is_duplicate(acct_cache, src, key)) return;

    AcctInput in;
    in.nas = req.text(radius::attr::nas_identifier)
                 .value_or(req.ipv4(radius::attr::nas_ip_address).value_or(src.peer));
    in.apn = req.text(radius::attr::called_station_id).value_or("");
    in.ipv4 = req.ipv4(radius::attr::framed_ip_address).value_or("");
    in.ipv6_prefix = req.ipv6_prefix().value_or("");
    in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
    in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
    in.username = req.text(radius::attr::user_name).value_or("");
    in.acct_session_id = req.text(radius::attr::acct_session_id).value_or("");
    bool roamer = roaming && !src.partner && service.partner_for(in.username);
    if (auto cls = req.text(radius::attr::class_); roamer && cls && cls->starts_with(kHostClassPrefix))
      in.hostname = cls->substr(std::string_view(kHostClassPrefix).size());

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
      bool known = roaming_authenticated.count(roaming_key(*src.partner, in.username)) ||
                   (!in.ipv4.empty() && table.find_by_ip(in.ipv4, in.context()));
      bool creates = st == radius::AcctStatus::start || st == radius::AcctStatus::interim_update;
      refused = (creates && !known) || AccessService::realm_of(in.username).empty() ||
                !service.is_own_realm(in.username) || st == radius::AcctStatus::accounting_on ||
                st == radius::AcctStatus::accounting_off;
      if (refused) {
        metrics()
            .counter("mobix_roaming_accounting_refused_total",
                     "Accounting from roaming partners for terminals we did not authenticate")
            .inc();
        spdlog::warn("radsec acct from partner {}: user {} was not authenticated here; nothing recorded",
                     src.partner->name, in.username);
      }
    }

    Outcome out;
    switch (refused ? radius::AcctStatus{0} : st) {
      case radius::AcctStatus::start:
        out = service.account_start(in, now);
        break;
      case radius::AcctStatus::interim_update:
        out = service.account_interim(in, now);
        break;
      case radius::AcctStatus::stop:
        out = service.account_stop(in, now);
        break;
      case radius::AcctStatus::accounting_on:
        out = service.nas_restarted(in.nas, in.nas_address, "accounting-on", now);
        break;
      case radius::AcctStatus::accounting_off:
        out = service.nas_restarted(in.nas, in.nas_address, "accounting-off", now);
        break;
      default:
        out.note = "Acct-Status-Type " + std::to_string(*status) + (refused ? " refused" : " ignored");
        break;
    }
    status_counter(*status).inc();
    if (stale) {
      out.refused = stale;
      out.note = fmt::format(
          "Event-Timestamp {} / Acct-Delay-Time {}: older than accounting_max_age or from the "
          "future, refused as a replay",
          req.integer(radius::attr::event_timestamp).value_or(0),
          req.integer(radius::attr::acct_delay_time).value_or(0));
    }
    if (!out.refused.empty()) {
      metrics()
          .counter("mobix_access_accounting_refused_total",
                   "Accounting-Requests refused as unsafe (replays, stale Starts, another client's sessions)",
                   fmt::format("reason=\"{}\"", out.refused))
          .inc();
      spdlog::warn("radius acct from {} ({}): {} (acct-session-id={} ip={})", in.nas, in.nas_address,
                   out.note, in.acct_session_id, in.ipv4);
    } else if (!out.note.empty()) {
      metrics()
          .counter("mobix_access_accounting_noop_total", "Accounting-Requests that changed nothing")
          .inc();
      spdlog::info("radius acct from {}: {} (acct-session-id={} ip={})", in.nas, out.note, in.acct_session_id,
                   in.ipv4);
    }
    // The home network follows its roamers' interims too, or it would expire them.
    if (roamer && st == radius::AcctStatus::interim_update && out.note.empty())
      if (auto s = table.find_by_ip(in.ipv4, in.context()))
        forward_accounting(*s, radius::AcctStatus::interim_update);
    radius::Packet resp;
    resp.code = radius::Code::accounting_response;
    resp.identifier = req.identifier;
    auto bytes = std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, src.secret));
    journal(out);
    auto events = std::move(out.events);
    // Durable before the Accounting-Response (issue: "each change is durable before ...").
    commit(
        std::move(out.changes),
        [this, key, bytes, reply = src.reply, events = std::move(events)] {
          publish(events);
          acct_cache.answered(key, bytes);
          reply(bytes);
        },
        [this, key] { acct_cache.forget(key); });
  }

  /// Logs and publishes session events; a visiting terminal's attach and detach also go to
  /// its home network (seed 002 [0029], [0033]), whatever ended the session.
  void publish(const std::vector<SessionEvent>& events) {
    log_events(events);
    table.publish(events);
    if (!roaming) return;
    for (const auto& e : events)
      if (service.partner_for(e.session.username))
        forward_accounting(e.session, e.kind == SessionEvent::Kind::attach ? radius::AcctStatus::start
                                                                           : radius::AcctStatus::stop);
  }

  void forward_accounting(const SessionRecord& s, radius::AcctStatus status) {
    const auto* partner = service.partner_for(s.username);
    if (!partner) return;
    auto it = partners_out.find(partner->name);
    if (it == partners_out.end()) return;
    radius::Packet p;
    p.code = radius::Code::accounting_request;
    p.add_integer(radius::attr::acct_status_type, static_cast<std::uint32_t>(status));
    p.add_text(radius::attr::acct_session_id, s.acct_session_id);
    p.add_text(radius::attr::user_name, s.username);
    if (!s.ipv4.empty()) p.add_ipv4(radius::attr::framed_ip_address, s.ipv4);
    if (!s.msisdn.empty()) p.add_text(radius::attr::calling_station_id, s.msisdn);
    p.add_integer(radius::attr::event_timestamp, static_cast<std::uint32_t>(clock()));
    auto& out = it->second;
    out.acct_queue.push_back(std::move(p));
    if (!out.forwarding) {
      out.forwarding = true;
      asio::co_spawn(io, forward_loop(out), asio::detached);
    }
  }

  /// Sends a partner's accounting in order; a failure is retried with backoff, never skipped.
  asio::awaitable<void> forward_loop(Partner& out) {
    auto backoff = std::chrono::milliseconds(200);
    const auto& name = out.client->partner().name;
    auto& sent = metrics().counter("mobix_roaming_accounting_forwarded_total",
                                   "Accounting-Requests delivered to home networks",
                                   fmt::format("partner=\"{}\"", name));
    auto& failed = metrics().counter("mobix_roaming_accounting_retries_total",
                                     "Accounting-Requests to home networks that must be retried",
                                     fmt::format("partner=\"{}\"", name));
    while (!out.acct_queue.empty() && !stopping) {
      auto packet = out.acct_queue.front();
      std::string no_password;
      auto answer = co_await out.client->exchange(packet, no_password);
      if (answer && answer->code == radius::Code::accounting_response) {
        out.acct_queue.pop_front();
        sent.inc();
        backoff = std::chrono::milliseconds(200);
        continue;
      }
      failed.inc();
      spdlog::warn("roaming: accounting for home network {} not delivered; {} waiting, retry in {} ms", name,
                   out.acct_queue.size(), backoff.count());
      asio::steady_timer t(io, backoff);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
    }
    out.forwarding = false;
  }

  void schedule_sweep() {
    sweep_timer.expires_after(std::chrono::seconds(5));
    sweep_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      auto out = service.sweep(clock());
      journal(out);
      auto events = out.events;
      commit(std::move(out.changes), [this, events] { publish(events); }, {});
      schedule_sweep();
    });
  }

  void open(udp::socket& s, const Endpoint& ep) {
    udp::endpoint e(asio::ip::make_address(ep.host), ep.port);
    s.open(e.protocol());
    s.set_option(asio::socket_base::receive_buffer_size(4 << 20));
    s.bind(e);
  }
};

AccessRole::AccessRole(asio::io_context& io, const AccessConfig& cfg, Directory& dir, SessionRepository& repo,
                       StoreWriter& writer, Clock clock, const RoamingConfig* roaming)
    : impl_(std::make_unique<Impl>(io, cfg, dir, repo, writer, std::move(clock), roaming)) {}

AccessRole::~AccessRole() = default;

void AccessRole::start() {
  auto& m = *impl_;
  m.table.load(m.repo.load_sessions());
  const std::int64_t memory = m.cfg.ended_session_memory;
  m.table.remember_ends(memory, m.cfg.max_ended_sessions, m.repo.load_ended_sessions(m.clock() - memory));
  m.service.load_leases(m.repo.load_leases());
  spdlog::info("access: restored {} sessions from the store", m.table.size());
  m.open(m.auth_sock, m.cfg.auth_listen);
  m.open(m.acct_sock, m.cfg.acct_listen);
  asio::co_spawn(m.io, m.receive_loop(m.auth_sock, false), asio::detached);
  asio::co_spawn(m.io, m.receive_loop(m.acct_sock, true), asio::detached);
  m.schedule_sweep();
  spdlog::info("access: RADIUS auth on {}, accounting on {}", auth_endpoint().str(), acct_endpoint().str());
  if (m.roaming) {
    for (const auto& p : m.roaming->partners)
      if (p.server)
        m.partners_out[p.name].client = std::make_unique<roaming::RadsecClient>(m.io, *m.roaming, p);
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
  m.commit(
      std::move(out.changes),
      [&m, events, done, found] {
        m.publish(events);
        done(found);
      },
      [done] { done(false); });
}

}  // namespace mobix
