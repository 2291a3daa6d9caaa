#include "access/radius_server.hpp"

#include <array>
#include <chrono>

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
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/runtime.hpp"
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

std::string dedup_key(const udp::endpoint& from, const radius::Packet& p) {
  std::string k = from.address().to_string();
  k += ':';
  k += std::to_string(from.port());
  k += ':';
  k += static_cast<char>(static_cast<std::uint8_t>(p.code));
  k += static_cast<char>(p.identifier);
  k.append(reinterpret_cast<const char*>(p.authenticator.data()), p.authenticator.size());
  return k;
}

}  // namespace

struct AccessRole::Impl {
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

  Impl(asio::io_context& io_, const AccessConfig& cfg_, Directory& dir_, SessionRepository& repo_,
       StoreWriter& w, Clock c)
      : io(io_),
        cfg(cfg_),
        dir(dir_),
        repo(repo_),
        writer(w),
        clock(c ? std::move(c) : Clock([] { return static_cast<std::int64_t>(std::time(nullptr)); })),
        service(cfg_, dir_, table),
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
    metrics()
        .counter("mobix_radius_dropped_total", "RADIUS packets dropped without a response, by reason",
                 metric_labels(listener, reason))
        .inc();
    auto suppressed = log_limit.allow(reason);
    if (suppressed >= 0)
      spdlog::warn("radius {}: dropped packet from {}: {}{}", listener, from.address().to_string(), reason,
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
    auto& c = status_counters[status];
    if (!c)
      c = &metrics().counter("mobix_radius_accounting_total",
                             "Accounting-Requests processed, by Acct-Status-Type",
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

  /// RFC 5080 2.2.2: true when `key` was seen before (answered again from the cache, or
  /// still in flight and dropped); otherwise records it as in flight.
  bool is_duplicate(DedupCache& cache, udp::socket& sock, const std::string& key, const udp::endpoint& from) {
    DedupCache::Response cached;
    auto state = cache.check(key, cached);
    if (state == DedupCache::State::miss) return false;
    duplicates.inc();
    if (state == DedupCache::State::answered) send(sock, from, cached);
    return true;
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

  void handle_auth(std::span<const std::uint8_t> raw, const udp::endpoint& from) {
    requests_auth.inc();
    const auto* client = client_for(from.address());
    if (!client) return drop("auth", "unknown_client", from);
    auto decoded = radius::decode(raw);
    if (!decoded)
      return drop("auth", std::string("malformed_") + std::string(radius::to_string(decoded.error())), from);
    auto& req = *decoded;
    if (req.code != radius::Code::access_request) return drop("auth", "unexpected_code", from);
    // RFC 3579 3.2 / BlastRADIUS: check Message-Authenticator before anything else.
    auto ma = radius::check_request_message_authenticator(raw, client->secret);
    if (ma == radius::MessageAuthenticatorCheck::invalid)
      return drop("auth", "bad_message_authenticator", from);
    if (ma == radius::MessageAuthenticatorCheck::absent && cfg.require_message_authenticator)
      return drop("auth", "missing_message_authenticator", from);

    auto key = dedup_key(from, req);
    if (is_duplicate(auth_cache, auth_sock, key, from)) return;

    AuthInput in;
    in.username = req.text(radius::attr::user_name).value_or("");
    in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
    in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
    in.apn = req.text(radius::attr::called_station_id).value_or("");
    if (const auto* pw = req.find(radius::attr::user_password)) {
      auto plain = radius::unhide_password(pw->value, req.authenticator, client->secret);
      if (!plain) {
        auth_cache.forget(key);
        return drop("auth", "malformed_user_password", from);
      }
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

    auto d = service.authorize(in, clock());
    radius::Packet resp;
    resp.identifier = req.identifier;
    if (d.accept) {
      resp.code = radius::Code::access_accept;
      resp.add_ipv4(radius::attr::framed_ip_address, d.framed_ip);
      resp.add_integer(radius::attr::acct_interim_interval, cfg.interim_interval);
      accepts.inc();
      spdlog::info("radius auth: accept user={} msisdn={} apn={} ip={} ({})", in.username, in.msisdn, in.apn,
                   d.framed_ip, d.reason);
    } else {
      resp.code = radius::Code::access_reject;
      resp.add_text(radius::attr::reply_message, d.reason);
      metrics()
          .counter("mobix_radius_access_rejects_total", "Access-Rejects sent, by reason",
                   fmt::format("reason=\"{}\"", d.metric_reason))
          .inc();
      spdlog::info("radius auth: reject user={} msisdn={} apn={}: {}", in.username, in.msisdn, in.apn,
                   d.reason);
    }
    resp.add_message_authenticator();
    auto bytes =
        std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, client->secret));
    commit(
        std::move(d.changes),
        [this, key, bytes, from] {
          auth_cache.answered(key, bytes);
          send(auth_sock, from, bytes);
        },
        [this, key] { auth_cache.forget(key); });
  }

  void handle_acct(std::span<const std::uint8_t> raw, const udp::endpoint& from) {
    requests_acct.inc();
    const auto* client = client_for(from.address());
    if (!client) return drop("acct", "unknown_client", from);
    auto decoded = radius::decode(raw);
    if (!decoded)
      return drop("acct", std::string("malformed_") + std::string(radius::to_string(decoded.error())), from);
    auto& req = *decoded;
    if (req.code != radius::Code::accounting_request) return drop("acct", "unexpected_code", from);
    if (!radius::verify_accounting_request(raw.subspan(0, (std::size_t{raw[2]} << 8) | raw[3]),
                                           client->secret))
      return drop("acct", "bad_authenticator", from);
    auto status = req.integer(radius::attr::acct_status_type);
    if (!status) return drop("acct", "no_acct_status_type", from);

    auto key = dedup_key(from, req);
    if (is_duplicate(acct_cache, acct_sock, key, from)) return;

    AcctInput in;
    in.nas = req.text(radius::attr::nas_identifier)
                 .value_or(req.ipv4(radius::attr::nas_ip_address).value_or(client->name));
    in.apn = req.text(radius::attr::called_station_id).value_or("");
    in.ipv4 = req.ipv4(radius::attr::framed_ip_address).value_or("");
    in.ipv6_prefix = req.ipv6_prefix().value_or("");
    in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
    in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
    in.username = req.text(radius::attr::user_name).value_or("");
    in.acct_session_id = req.text(radius::attr::acct_session_id).value_or("");

    auto now = clock();
    Outcome out;
    switch (static_cast<radius::AcctStatus>(*status)) {
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
        out = service.nas_restarted(in.nas, "accounting-on");
        break;
      case radius::AcctStatus::accounting_off:
        out = service.nas_restarted(in.nas, "accounting-off");
        break;
      default:
        out.note = "Acct-Status-Type " + std::to_string(*status) + " ignored";
        break;
    }
    status_counter(*status).inc();
    if (!out.note.empty()) {
      metrics()
          .counter("mobix_access_accounting_noop_total", "Accounting-Requests that changed nothing")
          .inc();
      spdlog::info("radius acct from {}: {} (acct-session-id={} ip={})", in.nas, out.note, in.acct_session_id,
                   in.ipv4);
    }
    radius::Packet resp;
    resp.code = radius::Code::accounting_response;
    resp.identifier = req.identifier;
    auto bytes =
        std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, client->secret));
    auto events = std::move(out.events);
    // Durable before the Accounting-Response (issue: "each change is durable before ...").
    commit(
        std::move(out.changes),
        [this, key, bytes, from, events = std::move(events)] {
          log_events(events);
          table.publish(events);
          acct_cache.answered(key, bytes);
          send(acct_sock, from, bytes);
        },
        [this, key] { acct_cache.forget(key); });
  }

  void schedule_sweep() {
    sweep_timer.expires_after(std::chrono::seconds(5));
    sweep_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      auto out = service.sweep(clock());
      auto events = out.events;
      commit(std::move(out.changes),
             [this, events] {
               log_events(events);
               table.publish(events);
             },
             {});
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
                       StoreWriter& writer, Clock clock)
    : impl_(std::make_unique<Impl>(io, cfg, dir, repo, writer, std::move(clock))) {}

AccessRole::~AccessRole() = default;

void AccessRole::start() {
  auto& m = *impl_;
  m.table.load(m.repo.load_sessions());
  m.service.load_leases(m.repo.load_leases());
  spdlog::info("access: restored {} sessions from the store", m.table.size());
  m.open(m.auth_sock, m.cfg.auth_listen);
  m.open(m.acct_sock, m.cfg.acct_listen);
  asio::co_spawn(m.io, m.receive_loop(m.auth_sock, false), asio::detached);
  asio::co_spawn(m.io, m.receive_loop(m.acct_sock, true), asio::detached);
  m.schedule_sweep();
  spdlog::info("access: RADIUS auth on {}, accounting on {}", auth_endpoint().str(), acct_endpoint().str());
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
}

bool AccessRole::drained() const {
  return impl_->gate.active() == 0;
}

Endpoint AccessRole::auth_endpoint() const {
  auto e = impl_->auth_sock.local_endpoint();
  return Endpoint{e.address().to_string(), e.port()};
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

void AccessRole::purge(const std::string& ip, std::function<void(bool)> done) {
  auto& m = *impl_;
  auto out = m.service.purge_ip(ip);
  bool found = !out.events.empty();
  auto events = out.events;
  m.commit(
      std::move(out.changes),
      [&m, events, done, found] {
        m.log_events(events);
        m.table.publish(events);
        done(found);
      },
      [done] { done(false); });
}

}  // namespace mobix
