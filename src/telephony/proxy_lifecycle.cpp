// Each represented device's life in the mobility manager (seed 003): tickets with the identity code
// as principal (claim 1), the initiating information from the initiating database (HTTP Negotiate),
// the Mobile IP registration (claim 5), renewals, moves, and the end.
#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "net/http_client.hpp"
#include "telephony/mobility_manager_impl.hpp"

namespace mobix::telephony {

namespace asio = boost::asio;
using std::chrono::seconds;

namespace {

/// What the blocking part of a bootstrap produced on the pool.
struct Tickets {
  std::unique_ptr<krb::Credentials> credentials;
  std::unique_ptr<krb::SpnegoInitiator> initiator;
  std::string token;
  std::string outcome, error;  ///< set on failure
};

Tickets obtain_tickets(const std::string& principal, krb::KeyTable& keytab, const std::string& host) {
  Tickets t;
  try {
    t.credentials = krb::Credentials::from_keytab(principal, keytab);
    t.initiator = std::make_unique<krb::SpnegoInitiator>(*t.credentials, host);
    t.token = t.initiator->first_token();
  } catch (const krb::KerberosError& e) {
    t.outcome = krb::to_string(e.kind);
    t.error = e.what();
  }
  return t;
}

}  // namespace

void MobilityManager::fail(DeviceProxy& d, const std::string& outcome, const std::string& detail) {
  d.state = DeviceState::retrying;
  d.reason = outcome;
  count("mobix_mm_bootstraps_total", outcome);
  if (log_limit_.allow(outcome) >= 0)
    spdlog::warn("mobility_manager: {}: {} ({}); retrying", d.code, outcome, detail);
}

// Seed 003 at scale: at most bootstraps_in_flight devices bootstrap at once, the others wait in
// switch-on order. A wave of switch-ons (a base station's power cut ending, 100,000 devices) then
// costs the KDC, the initiating database and the Home Agent a steady load. Unbounded, the wave
// opened thousands of HTTPS connections at once, which timed out and retried (measured: 186,000
// initiating_db_unreachable and 27,000 home_agent_unreachable while 20,000 devices came up).
asio::awaitable<bool> MobilityManager::admit(std::shared_ptr<DeviceProxy> d) {
  if (bootstraps_in_flight_ < cfg_.bootstraps_in_flight && bootstrap_queue_.empty()) {
    ++bootstraps_in_flight_;
    d->admitted = true;
    co_return true;
  }
  d->state = DeviceState::queued;
  bootstrap_queue_.push_back(d);
  while (!d->admitted && !d->off) {  // woken by release(), or by a report (moved, switched off)
    d->wake.expires_at(asio::steady_timer::time_point::max());
    co_await d->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!d->admitted) co_return false;  // off: release() skips it in the queue
  co_return true;
}

void MobilityManager::release(DeviceProxy& d) {
  if (!d.admitted) return;
  d.admitted = false;
  --bootstraps_in_flight_;
  while (!bootstrap_queue_.empty() && bootstraps_in_flight_ < cfg_.bootstraps_in_flight) {
    auto next = bootstrap_queue_.front().lock();
    bootstrap_queue_.pop_front();
    if (!next || next->off || next->admitted) continue;
    next->admitted = true;
    ++bootstraps_in_flight_;
    next->wake.cancel();
  }
}

asio::awaitable<void> MobilityManager::run_device(std::shared_ptr<DeviceProxy> d) {
  while (!d->off) {
    bool admitted = co_await admit(d);
    if (!admitted) break;
    bool up = false;
    if (!d->off) up = co_await bootstrap(*d);
    release(*d);
    if (up) {
      Ended how = co_await keep(*d);
      if (how == Ended::stop) break;
    }
    if (d->off) break;
    co_await backoff(*d);
  }
  d->state = DeviceState::stopping;
  if (d->node && d->registered_care_of) {
    // Within the node's shutdown grace when the process stops.
    if (stopping_) d->node->set_retransmit({std::chrono::milliseconds(500), 2});
    auto e = co_await d->node->deregister();
    bool ok = e.result == mip::Exchange::Result::replied && mip::accepted(e.reply.code);
    spdlog::info("mobility_manager: {} deregistered from the Home Agent{}", d->code,
                 ok ? "" : std::string(" (no acceptance: ") + mip::to_string(e.result) + ")");
  }
  if (auto it = devices_.find(d->code); it != devices_.end() && it->second == d) devices_.erase(it);
  spdlog::info("mobility_manager: {} is no longer represented", d->code);
}

asio::awaitable<bool> MobilityManager::bootstrap(DeviceProxy& d) {
  d.state = DeviceState::bootstrapping;
  auto principal = d.code + "@" + realm_;
  auto keytab = keys_;
  auto host = cfg_.initiating_db_host;
  auto work = [principal, keytab, host]() -> asio::awaitable<Tickets> {
    co_return obtain_tickets(principal, *keytab, host);
  };
  Tickets t = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!t.outcome.empty()) {
    fail(d, t.outcome, t.error);
    co_return false;
  }
  d.tickets = std::move(t.credentials);
  d.tickets_from = now();
  bool fetched = co_await fetch_initiating(d, t.token, *t.initiator);
  if (!fetched) co_return false;
  d.state = DeviceState::registering;
  mip::MobileNode::Settings s;
  s.home_agent_endpoint =
      asio::ip::udp::endpoint(asio::ip::make_address(d.info.home_agent.host), d.info.home_agent.port);
  s.home_agent = d.info.home_agent_address;
  s.home_address = d.info.home_address;
  s.sa = d.info.sa;
  s.lifetime = static_cast<std::uint16_t>(cfg_.mip_lifetime);
  d.node = std::make_unique<mip::MobileNode>(*mip_, s);
  bool registered = co_await register_at(d, d.care_of);
  if (!registered) co_return false;
  d.state = DeviceState::active;
  d.failures = 0;
  d.reason.clear();
  count("mobix_mm_bootstraps_total", "represented");
  spdlog::info("mobility_manager: {} represented: home address {} via care-of {} for {} s; tickets until {}",
               d.code, mip::ipv4_to_string(d.info.home_address), mip::ipv4_to_string(d.care_of), d.granted,
               d.tickets->expires());
  co_return true;
}

std::unique_ptr<net::HttpsConnection> MobilityManager::take_connection() {
  if (idle_connections_.empty()) return nullptr;
  auto c = std::move(idle_connections_.back());
  idle_connections_.pop_back();
  return c;
}

void MobilityManager::give_back(std::unique_ptr<net::HttpsConnection> c) {
  if (idle_connections_.size() < kIdleConnections && !stopping_) idle_connections_.push_back(std::move(c));
}

/// One GET on a kept-alive connection; one that the server closed meanwhile is replaced once.
asio::awaitable<net::HttpsConnection::Response> MobilityManager::get_initiating(const std::string& code,
                                                                                const std::string& token) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = take_connection();
    bool fresh = !conn;
    if (fresh) {
      conn = std::make_unique<net::HttpsConnection>(io_.get_executor());
      std::string why;
      Endpoint to{cfg_.initiating_db_host, cfg_.initiating_db.port};
      bool connected = co_await conn->connect(to, *tls_, seconds(5), std::ref(why));
      if (!connected) co_return net::HttpsConnection::Response{0, "", why, "", false};
    }
    auto resp = co_await conn->request("GET", "/v1/initiating/" + code, cfg_.initiating_db_host, "", "",
                                       seconds(5), 64 << 10, "Negotiate " + token);
    if (resp.status == 0 && !fresh) continue;  // closed while idle: again on a new connection
    if (resp.status && resp.keep_alive) give_back(std::move(conn));
    co_return resp;
  }
  co_return net::HttpsConnection::Response{0, "", "no connection", "", false};
}

asio::awaitable<bool> MobilityManager::fetch_initiating(DeviceProxy& d, std::string token,
                                                        krb::SpnegoInitiator& initiator) {
  auto resp = co_await get_initiating(d.code, token);
  if (resp.status != 200) {
    fail(d, resp.status ? "initiating_db_refused" : "initiating_db_unreachable",
         resp.status ? std::to_string(resp.status) + " " + resp.body.substr(0, 200) : resp.error);
    co_return false;
  }
  // RFC 4559 section 5: the server proves its identity with the last token of the exchange.
  const auto& www = resp.www_authenticate;
  if (www.rfind("Negotiate ", 0) != 0 || !initiator.verify_server(www.substr(10))) {
    fail(d, "initiating_db_not_authenticated", "no valid mutual-authentication token");
    co_return false;
  }
  auto info = parse_initiating_info(resp.body);
  if (!info) {
    fail(d, "bad_initiating_info", "the initiating information is incomplete");
    co_return false;
  }
  d.info = std::move(*info);
  co_return true;
}

asio::awaitable<bool> MobilityManager::register_at(DeviceProxy& d, std::uint32_t care_of) {
  auto lifetime = static_cast<std::uint16_t>(cfg_.mip_lifetime);
  auto e = co_await d.node->register_from(care_of, lifetime);
  if (e.result != mip::Exchange::Result::replied) {
    fail(d,
         e.result == mip::Exchange::Result::timed_out ? "home_agent_unreachable"
                                                      : "home_agent_unauthenticated",
         std::to_string(e.attempts) + " attempts");
    co_return false;
  }
  if (!mip::accepted(e.reply.code)) {
    fail(d, "mip_refused",
         std::to_string(static_cast<int>(e.reply.code)) + " " + mip::to_string(e.reply.code));
    co_return false;
  }
  d.registered_care_of = care_of;
  d.registered_at = now();
  d.granted = e.reply.lifetime;
  co_return true;
}

asio::awaitable<void> MobilityManager::renew_tickets(DeviceProxy& d) {
  auto principal = d.code + "@" + realm_;
  auto keytab = keys_;
  auto work = [principal, keytab]() -> asio::awaitable<Tickets> {
    Tickets t;
    try {
      t.credentials = krb::Credentials::from_keytab(principal, *keytab);
    } catch (const krb::KerberosError& e) {
      t.outcome = krb::to_string(e.kind);
      t.error = e.what();
    }
    co_return t;
  };
  Tickets t = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!t.outcome.empty()) {
    d.next_ticket_try = now() + 5;
    count("mobix_mm_ticket_renewals_total", t.outcome);
    if (log_limit_.allow("renewal") >= 0)
      spdlog::warn(
          "mobility_manager: {}: tickets not renewed ({}); it stays represented until they expire at {}",
          d.code, t.error, d.tickets->expires());
    co_return;
  }
  d.tickets = std::move(t.credentials);
  d.tickets_from = now();
  count("mobix_mm_ticket_renewals_total", "renewed");
}

asio::awaitable<void> MobilityManager::charge(std::shared_ptr<DeviceProxy> d, std::string body,
                                              HttpReply reply) {
  auto fail_charge = [&](int status, const std::string& outcome, const std::string& detail) {
    count("mobix_mm_charges_total", outcome);
    if (log_limit_.allow("charge_" + outcome) >= 0)
      spdlog::warn("mobility_manager: {}: charge not posted: {} ({})", d->code, outcome, detail);
    reply(HttpResponse{status, "application/json",
                       nlohmann::json{{"error", outcome}, {"detail", detail}}.dump() + "\n"});
  };
  // A service ticket for the billing service, with the device's TGT (the KDC may block: the pool).
  auto creds = d->tickets;
  auto host = cfg_.billing_host;
  struct Token {
    std::unique_ptr<krb::SpnegoInitiator> initiator;
    std::string token, error;
  };
  auto work = [creds, host]() -> asio::awaitable<Token> {
    Token t;
    try {
      t.initiator = std::make_unique<krb::SpnegoInitiator>(*creds, host);
      t.token = t.initiator->first_token();
    } catch (const krb::KerberosError& e) {
      t.error = e.what();
    }
    co_return t;
  };
  Token t = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!t.error.empty()) co_return fail_charge(502, "billing_ticket", t.error);
  net::HttpsConnection conn(io_.get_executor());
  std::string why;
  Endpoint to{cfg_.billing_host, cfg_.billing->port};
  bool connected = co_await conn.connect(to, *tls_, seconds(5), std::ref(why));
  if (!connected) co_return fail_charge(502, "billing_unreachable", why);
  auto resp = co_await conn.request("POST", "/v1/charges", cfg_.billing_host, "application/json", body,
                                    seconds(5), 64 << 10, "Negotiate " + t.token);
  co_await conn.close(seconds(2));
  if (resp.status == 0) co_return fail_charge(502, "billing_unreachable", resp.error);
  const auto& www = resp.www_authenticate;
  bool authentic = www.rfind("Negotiate ", 0) == 0 && t.initiator->verify_server(www.substr(10));
  if (resp.status / 100 == 2 && !authentic)
    co_return fail_charge(502, "billing_not_authenticated", "no valid mutual-authentication token");
  count("mobix_mm_charges_total", resp.status == 201   ? "charged"
                                  : resp.status == 200 ? "duplicate"
                                                       : "refused");
  reply(HttpResponse{resp.status, "application/json", resp.body});
}

asio::awaitable<MobilityManager::Ended> MobilityManager::keep(DeviceProxy& d) {
  for (;;) {
    if (d.off) co_return Ended::stop;
    auto t = now();
    if (t - d.last_heard >= cfg_.device_timeout) {
      spdlog::info("mobility_manager: {} not heard from for {} s: its proxy stops", d.code, t - d.last_heard);
      count("mobix_mm_reports_total", "silent");
      d.off = true;
      co_return Ended::stop;
    }
    if (t >= d.tickets->expires()) {
      fail(d, "tickets_expired", "its tickets expired and could not be renewed");
      co_return Ended::restart;
    }
    if (d.care_of != d.registered_care_of) {  // the device moved (claim 5)
      bool moved = co_await register_at(d, d.care_of);
      if (!moved) co_return Ended::restart;
      spdlog::info("mobility_manager: {} now reachable via care-of {}", d.code,
                   mip::ipv4_to_string(d.care_of));
      continue;
    }
    auto tickets_due =
        std::max(d.tickets_from + (d.tickets->expires() - d.tickets_from) * 8 / 10, d.next_ticket_try);
    if (t >= tickets_due) {
      co_await renew_tickets(d);
      continue;
    }
    auto mip_due = d.registered_at + mip::MobileNode::renew_after(d.granted).count();
    if (t >= mip_due) {
      bool renewed = co_await register_at(d, d.care_of);
      if (!renewed) co_return Ended::restart;
      continue;
    }
    auto next = std::min({mip_due, tickets_due, d.last_heard + cfg_.device_timeout, d.tickets->expires()});
    d.wake.expires_after(seconds(std::max<std::int64_t>(next - t, 1)));
    co_await d.wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> MobilityManager::backoff(DeviceProxy& d) {
  ++d.failures;
  auto wait = std::min<std::uint32_t>(cfg_.retry_max, 1u << std::min(d.failures - 1, 10u));
  d.wake.expires_after(seconds(wait));
  co_await d.wake.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace mobix::telephony
