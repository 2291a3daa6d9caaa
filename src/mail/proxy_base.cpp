#include "mail/proxy_base.hpp"

#include <spdlog/spdlog.h>

#include "core/log.hpp"

#include "net/tls_context.hpp"
#include "net/tunnel_leg.hpp"

namespace mobix::mail {

namespace asio = boost::asio;

const char* to_string(SessionState s) {
  switch (s) {
    case SessionState::admitting:
      return "admitting";
    case SessionState::awaiting_login:
      return "awaiting_login";
    case SessionState::identifying:
      return "identifying";
    case SessionState::opening_upstream:
      return "opening_upstream";
    case SessionState::logging_in:
      return "logging_in";
    case SessionState::relaying:
      return "relaying";
    case SessionState::done:
      break;
  }
  return "done";
}

const char* to_string(Refusal r) {
  switch (r) {
    case Refusal::outside_access_range:
      return "outside_access_range";
    case Refusal::rate_limited:
      return "rate_limited";
    case Refusal::no_session:
      return "no_session";
    case Refusal::directory_unavailable:
      return "directory_unavailable";
    case Refusal::no_mail_account:
      return "no_mail_account";
    case Refusal::upstream_tls_failed:
      return "upstream_tls_failed";
    case Refusal::upstream_unreachable:
      return "upstream_unreachable";
    case Refusal::upstream_rejected_credentials:
      break;
  }
  return "upstream_rejected_credentials";
}

ProxyBase::ProxyBase(const MailShared& s, ProtocolText t)
    : io(s.io),
      cfg(s.cfg),
      sessions(s.sessions),
      dir(s.dir),
      directory_pool(s.directory_pool),
      live(s.live),
      failures(s.cfg.max_failures_per_minute),
      tls(net::make_client_tls_context(s.cfg.upstream_ca_file)),
      text(t) {}

Counter& ProxyBase::failure(const std::string& reason) {
  std::string proto = text.name;
  return metrics().counter("mobix_mail_" + proto + "_failures_total",
                           proto == "smtp" ? "SMTP proxy requests refused or failed, by reason"
                                           : "Mail proxy sessions that did not reach the mailbox, by reason",
                           "reason=\"" + reason + "\"");
}

void ProxyBase::protocol_error(const char* reason, std::uint64_t id, const std::string& ip) {
  failure(reason).inc();
  if (auto suppressed = protocol_log.allow(reason); suppressed >= 0)
    spdlog::info("{} #{}: {}: {} ({} similar suppressed)", text.name, id, ip, reason, suppressed);
}

std::string ProxyBase::refuse(Refusal r, std::uint64_t id, const std::string& detail,
                              const std::string& tag) {
  failure(to_string(r)).inc();
  // The step that found the reason logged it with its detail; this line ties it to the reply.
  spdlog::debug("{} #{}: refused ({}) {}", text.name, id, to_string(r), detail);
  return text.refusal(r, tag);
}

std::optional<Refusal> ProxyBase::admission(const asio::ip::address& client, std::uint64_t id) {
  // Identity only from the session table, and only for the access network's ranges.
  auto ip = client.to_string();
  if (!in_ranges(cfg.access_ranges, client)) {
    failure(to_string(Refusal::outside_access_range)).inc();
    spdlog::info("{} #{}: {} is outside the access ranges: refused", text.name, id, ip);
    return Refusal::outside_access_range;
  }
  if (failures.blocked(ip)) {
    failure(to_string(Refusal::rate_limited)).inc();
    // One key for every address: a flood of blocked connections cannot flood the log.
    static LogRateLimiter log_limit(5);
    if (auto suppressed = log_limit.allow(text.name); suppressed >= 0)
      spdlog::info("{} #{}: {} is over its failed-login limit: refused ({} similar suppressed)", text.name,
                   id, ip, suppressed);
    return Refusal::rate_limited;
  }
  return std::nullopt;
}

asio::awaitable<std::variant<Identified, Refusal>> ProxyBase::identify_subscriber(
    std::string ip, std::uint64_t id, std::optional<MailProfile> (*profile_of)(const Subscriber&)) {
  auto who = co_await identify(sessions, dir, directory_pool, ip);
  if (!who) {
    failures.record(ip);
    spdlog::info("{} #{}: no live access session for {}", text.name, id, ip);
    co_return Refusal::no_session;
  }
  if (who->directory_unavailable) co_return Refusal::directory_unavailable;
  auto profile = who->subscriber ? profile_of(*who->subscriber) : std::nullopt;
  if (!profile) {
    spdlog::warn("{} #{}: msisdn {} ({}) has no {} account in the directory", text.name, id,
                 who->session.msisdn, ip, text.name);
    co_return Refusal::no_mail_account;
  }
  co_return Identified{std::move(*who), std::move(*profile)};
}

asio::awaitable<void> ProxyBase::relay_after_login(RelaySession& s, std::uint64_t id) {
  auto& client = s.client;
  auto& upstream = s.upstream;
  auto& client_buf = s.client_buf;
  auto& upstream_buf = s.upstream_buf;
  const auto& msisdn = s.msisdn;
  const auto idle = std::chrono::seconds(cfg.idle_timeout);
  // Anything either side already sent past the login is forwarded first.
  if (!upstream_buf.empty()) {
    bool sent = co_await net::write_all(client, upstream_buf, idle);
    if (!sent) co_return;
  }
  if (!client_buf.empty()) {
    bool sent = co_await net::write_all(upstream, client_buf, idle);
    if (!sent) co_return;
  }
  std::string().swap(client_buf);  // an idle relayed session keeps no buffer
  std::string().swap(upstream_buf);
  // Both legs plain TCP: splice(2), the bytes never enter user space; otherwise one buffer per
  // thread. An idle session holds no buffer either way (issue 17 item 3).
  auto bytes =
      co_await net::splice(client.leg(), upstream.leg(), idle, std::chrono::seconds(cfg.session_timeout));
  if (bytes.total_reached) {
    failure("session_timeout").inc();
    spdlog::info("{} #{}: msisdn {} reached the session time limit of {} s", text.name, id, msisdn,
                 cfg.session_timeout);
  }
  std::string proto = text.name;
  auto help = "Bytes relayed by the " + proto + " proxy";
  metrics().counter("mobix_mail_" + proto + "_bytes_total", help, "direction=\"down\"").inc(bytes.b_to_a);
  metrics().counter("mobix_mail_" + proto + "_bytes_total", help, "direction=\"up\"").inc(bytes.a_to_b);
  spdlog::info("{} #{}: done ({} bytes down, {} up)", text.name, id, bytes.b_to_a, bytes.a_to_b);
}

}  // namespace mobix::mail
