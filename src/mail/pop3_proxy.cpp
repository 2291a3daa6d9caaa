#include "mail/mail_proxies.hpp"

#include <chrono>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/pop3/pop3.hpp"
#include "core/metrics.hpp"
#include "directory/directory.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_factory.hpp"
#include "net/conn.hpp"
#include "net/conn_relay.hpp"
#include "spine/session_view.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using net::read_line;
using net::write_all;

Counter& failure_counter(const std::string& reason) {
  return metrics().counter("mobix_mail_pop3_failures_total",
                           "POP3 proxy sessions that did not reach the mailbox", "reason=\"" + reason + "\"");
}

// One POP3 proxy: its sessions share the config, the session table and the directory.
struct Pop3Proxy : mail::ProxyBase {
  using ProxyBase::ProxyBase;
  Counter& logged_in =
      metrics().counter("mobix_mail_pop3_logins_total", "POP3 logins made on a subscriber's behalf");

  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto client_ip = canonical(peer.address());
    auto ip = client_ip.to_string();
    sock.set_option(tcp::no_delay(true), ec);  // see ENVIRONMENT.md: Nagle stalls one-at-a-time RETR
    net::Conn client(std::move(sock));
    const auto cmd_timeout = std::chrono::seconds(cfg.pop3_command_timeout);
    const auto idle = std::chrono::seconds(cfg.idle_timeout);

    // Identity only from the session table, and only for the access network's ranges.
    if (!in_ranges(cfg.access_ranges, client_ip)) {
      failure_counter("outside_access_range").inc();
      spdlog::info("pop3 #{}: {} is outside the access ranges: refused", id, ip);
      co_await write_all(client, "-ERR [AUTH] this service is only for handsets on the mobile network\r\n",
                         cmd_timeout);
      co_return;
    }
    if (failures.blocked(ip)) {
      failure_counter("rate_limited").inc();
      co_await write_all(client, "-ERR [AUTH] too many failed logins from this address; try again later\r\n",
                         cmd_timeout);
      co_return;
    }
    if (!co_await write_all(client, "+OK mobix POP3 proxy ready\r\n", cmd_timeout)) co_return;

    std::string buf;
    for (;;) {
      auto line = co_await read_line(client, buf, 1024, cmd_timeout);
      if (!line) {
        if (buf.size() >= 1024) {
          failure_counter("line_too_long").inc();
          co_await write_all(client, "-ERR line too long\r\n", cmd_timeout);
        }
        co_return;
      }
      auto parsed = pop3::parse_command(*line);
      if (!parsed.command) {
        failure_counter("bad_command").inc();
        if (!co_await write_all(client, "-ERR malformed command\r\n", cmd_timeout)) co_return;
        continue;
      }
      const auto& cmd = *parsed.command;
      switch (cmd.verb) {
        case pop3::Verb::capa:
          // RFC 2449: USER login, response codes. No SASL is offered, so clients use USER/PASS.
          if (!co_await write_all(
                  client, "+OK capability list follows\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n",
                  cmd_timeout))
            co_return;
          continue;
        case pop3::Verb::user:
          // The handset's default user name is ignored: the subscriber is known by IP (step 102).
          if (!co_await write_all(client, "+OK\r\n", cmd_timeout)) co_return;
          continue;
        case pop3::Verb::noop:
          if (!co_await write_all(client, "+OK\r\n", cmd_timeout)) co_return;
          continue;
        case pop3::Verb::quit:
          co_await write_all(client, "+OK bye\r\n", cmd_timeout);
          co_return;
        case pop3::Verb::pass:
          break;
        default:
          if (!co_await write_all(client, "-ERR use USER and PASS\r\n", cmd_timeout)) co_return;
          continue;
      }
      break;  // PASS: log in on the subscriber's behalf
    }

    // Steps 102-103: IP -> session -> subscriber -> mail account.
    auto who = co_await mail::identify(sessions, dir, directory_pool, ip);
    if (!who) {
      failures.record(ip);
      failure_counter("no_session").inc();
      spdlog::info("pop3 #{}: no live access session for {}", id, ip);
      co_await write_all(client, "-ERR [AUTH] no mobile session is known for this address\r\n", cmd_timeout);
      co_return;
    }
    const auto* session = &who->session;
    if (who->directory_unavailable) {
      failure_counter("directory_unavailable").inc();
      co_await write_all(client,
                         "-ERR [SYS/TEMP] the subscriber directory is not reachable; try again later\r\n",
                         cmd_timeout);
      co_return;
    }
    auto profile = who->subscriber ? pop3_profile(*who->subscriber) : std::nullopt;
    if (!profile) {
      failure_counter("no_mail_account").inc();
      spdlog::warn("pop3 #{}: msisdn {} ({}) has no POP3 account in the directory", id, session->msisdn, ip);
      co_await write_all(client, "-ERR [AUTH] no mail account is provisioned for this subscriber\r\n",
                         cmd_timeout);
      co_return;
    }

    // Step 104: log in to the subscriber's real POP3 server (TLS per the profile).
    const auto up_timeout = std::chrono::seconds(cfg.upstream_timeout);
    net::Conn upstream(io.get_executor());
    std::string ubuf, why;
    auto opened =
        co_await net::open_upstream(upstream, *profile->pop3, profile->pop3_tls, *tls, up_timeout, why);
    std::optional<std::string> greeting;
    if (opened == net::UpstreamOpen::ok) greeting = co_await read_line(upstream, ubuf, 4096, up_timeout);
    if (greeting && pop3::is_ok(*greeting) && profile->pop3_tls == net::TlsMode::starttls) {
      // RFC 2595 4: STLS; nothing the server sent before the handshake may be kept.
      std::optional<std::string> stls;
      if (co_await write_all(upstream, "STLS\r\n", up_timeout))
        stls = co_await read_line(upstream, ubuf, 4096, up_timeout);
      if (!stls || !pop3::is_ok(*stls) || !ubuf.empty()) {
        opened = net::UpstreamOpen::tls_failed;
        why = "the server refused STLS";
      } else if (co_await upstream.start_tls(*tls, profile->pop3->host, up_timeout, why)) {
        opened = net::UpstreamOpen::tls_failed;
      }
    }
    if (opened == net::UpstreamOpen::tls_failed) {
      failure_counter("upstream_tls_failed").inc();
      spdlog::warn("pop3 #{}: TLS to mail server {} for msisdn {} failed: {}", id, profile->pop3->str(),
                   session->msisdn, why);
      co_await write_all(client,
                         "-ERR [SYS/TEMP] no secure connection to the mail server; try again later\r\n",
                         cmd_timeout);
      co_return;
    }
    if (!greeting || !pop3::is_ok(*greeting)) {
      failure_counter("upstream_unreachable").inc();
      spdlog::warn("pop3 #{}: mail server {} for msisdn {} unreachable: {}", id, profile->pop3->str(),
                   session->msisdn, why.empty() ? "no +OK greeting" : why);
      co_await write_all(client, "-ERR [SYS/TEMP] the mail server is not reachable; try again later\r\n",
                         cmd_timeout);
      co_return;
    }
    // No co_await inside ?: or && here: GCC 12 miscompiles those in coroutines.
    std::optional<std::string> r2;
    if (co_await write_all(upstream, "USER " + profile->user + "\r\n", up_timeout)) {
      auto r1 = co_await read_line(upstream, ubuf, 4096, up_timeout);
      if (r1 && pop3::is_ok(*r1)) {
        if (co_await write_all(upstream, "PASS " + profile->password + "\r\n", up_timeout))
          r2 = co_await read_line(upstream, ubuf, 4096, up_timeout);
      } else if (r1) {
        r2 = r1;  // USER refused: report it like a refused PASS
      }
    }
    if (!r2) {
      failure_counter("upstream_unreachable").inc();
      co_await write_all(client, "-ERR [SYS/TEMP] the mail server did not answer; try again later\r\n",
                         cmd_timeout);
      co_return;
    }
    if (!pop3::is_ok(*r2)) {
      failure_counter("upstream_rejected_credentials").inc();
      spdlog::warn(
          "pop3 #{}: mail server {} rejected the stored credentials of msisdn {} (user {}): the account "
          "needs "
          "attention",
          id, profile->pop3->str(), session->msisdn, profile->user);
      co_await write_all(
          client,
          "-ERR [SYS/PERM] the mail server rejected this subscriber's stored credentials; the account "
          "needs attention from customer care\r\n",
          cmd_timeout);
      co_return;
    }
    logged_in.inc();
    spdlog::info("pop3 #{}: {} is msisdn {}: logged in to {} as {}", id, ip, session->msisdn,
                 profile->pop3->str(), profile->user);
    if (!co_await write_all(client, "+OK logged in\r\n", cmd_timeout)) co_return;
    // Anything either side already sent past the login is forwarded first.
    if (!ubuf.empty()) {
      if (!co_await write_all(client, ubuf, idle)) co_return;
    }
    if (!buf.empty()) {
      if (!co_await write_all(upstream, buf, idle)) co_return;
    }

    // Steps 105-106: relay unmodified, both directions, until both sides are done.
    auto bytes = co_await net::relay(client, upstream, idle, std::chrono::seconds(cfg.session_timeout));
    if (bytes.timed_out) {
      failure_counter("session_timeout").inc();
      spdlog::info("pop3 #{}: msisdn {} reached the session time limit of {} s", id, session->msisdn,
                   cfg.session_timeout);
    }
    auto down = bytes.down, up = bytes.up;
    metrics()
        .counter("mobix_mail_pop3_bytes_total", "Bytes relayed by the POP3 proxy", "direction=\"down\"")
        .inc(down);
    metrics()
        .counter("mobix_mail_pop3_bytes_total", "Bytes relayed by the POP3 proxy", "direction=\"up\"")
        .inc(up);
    spdlog::info("pop3 #{}: done ({} bytes down, {} up)", id, down, up);
  }
};

}  // namespace

std::unique_ptr<TcpService> make_pop3_proxy(const MailShared& shared) {
  return mail::serve_proxy<Pop3Proxy>(shared, "pop3", *shared.cfg.pop3_listen);
}

}  // namespace mobix
