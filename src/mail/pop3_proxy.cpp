#include "mail/mail_proxies.hpp"

#include <chrono>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/pop3/pop3.hpp"
#include "core/metrics.hpp"
#include "directory/directory.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_base.hpp"
#include "net/conn.hpp"
#include "spine/session_view.hpp"

namespace mobix {

namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using asio::ip::tcp;

namespace {

using net::read_line;
using net::write_all;

using mail::Refusal;
using mail::SessionState;

// POP3's words for each refusal (RFC 2449 response codes).
std::string refusal_reply(Refusal r, const std::string&) {
  switch (r) {
    case Refusal::outside_access_range:
      return "-ERR [AUTH] this service is only for handsets on the mobile network\r\n";
    case Refusal::rate_limited:
      return "-ERR [AUTH] too many failed logins from this address; try again later\r\n";
    case Refusal::no_session:
      return "-ERR [AUTH] no mobile session is known for this address\r\n";
    case Refusal::directory_unavailable:
      return "-ERR [SYS/TEMP] the subscriber directory is not reachable; try again later\r\n";
    case Refusal::no_mail_account:
      return "-ERR [AUTH] no mail account is provisioned for this subscriber\r\n";
    case Refusal::upstream_tls_failed:
      return "-ERR [SYS/TEMP] no secure connection to the mail server; try again later\r\n";
    case Refusal::upstream_unreachable:
      return "-ERR [SYS/TEMP] the mail server is not reachable; try again later\r\n";
    case Refusal::upstream_rejected_credentials:
      break;
  }
  return "-ERR [SYS/PERM] the mail server rejected this subscriber's stored credentials; the account needs "
         "attention from customer care\r\n";
}

// One POP3 proxy (seed 000 steps 101-106): its sessions share the config, the spine and the limiter.
struct Pop3Proxy : mail::ProxyBase {
  explicit Pop3Proxy(const MailShared& s) : ProxyBase(s, {"pop3", refusal_reply}) {}
  Counter& logged_in =
      metrics().counter("mobix_mail_pop3_logins_total", "POP3 logins made on a subscriber's behalf");

  // TCP_NODELAY is set on both legs (net::Leg): Nagle stalls one-at-a-time RETR (ENVIRONMENT.md).
  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    return run_session(*this, std::move(sock), id);
  }

  // Steps 101-104: greeting, the handset's commands up to PASS, identification and the upstream
  // login; true once logged in (the handset has its +OK), false when the session is over.
  asio::awaitable<bool> log_in(mail::RelaySession& s, std::uint64_t id) {
    auto& client = s.client;
    const auto t = std::chrono::seconds(cfg.pop3_command_timeout);
    if (auto refused = admission(s.client_ip, id)) {
      auto reply = text.refusal(*refused, {});
      co_await write_all(client, reply, t);
      co_return false;
    }
    if (!co_await write_all(client, "+OK mobix POP3 proxy ready\r\n", t)) co_return false;
    // The handset's USER/PASS and steps 102-104 at once: who it is comes from its address, never
    // from what it sends, so the upstream login need not wait for its PASS (issue 17 item 3: login
    // overhead). The handset still gets its answer only at PASS.
    auto [pass, login] =
        co_await (await_pass(client, s.client_buf, id, s.ip) &&
                  identify_and_login(s.ip, id, pop3_profile,
                                     [this, &s, id](const mail::Identified& me, mail::Login& login) {
                                       return open_and_login(s.upstream, s.upstream_buf, me, id, login.state);
                                     }));
    if (!pass) co_return false;  // the upstream connection closes with the session
    if (login.refused) {
      auto reply = refuse(*login.refused, id, std::string("while ") + mail::to_string(login.state));
      co_await write_all(client, reply, t);
      co_return false;
    }
    const auto& me = *login.me;
    logged_in.inc();
    spdlog::info("pop3 #{}: {} is msisdn {}: logged in to {} as {}", id, s.ip, me.who.session.msisdn,
                 me.profile.pop3->str(), me.profile.user);
    s.msisdn = me.who.session.msisdn;
    const bool sent = co_await write_all(client, "+OK logged in\r\n", t);
    co_return sent;
  }

  // Step 101: the handset's commands before PASS (its default USER is ignored: step 102 knows who
  // it is). True at PASS; false when the handset quit, misbehaved or went away.
  asio::awaitable<bool> await_pass(net::Conn& client, std::string& buf, std::uint64_t id, std::string ip) {
    const auto t = std::chrono::seconds(cfg.pop3_command_timeout);
    for (;;) {
      auto line = co_await read_line(client, buf, 1024, t);
      if (!line) {
        if (buf.size() >= 1024) {
          protocol_error("line_too_long", id, ip);
          co_await write_all(client, "-ERR line too long\r\n", t);
        }
        co_return false;
      }
      auto parsed = pop3::parse_command(*line);
      std::string reply;
      if (!parsed.command) {
        protocol_error("bad_command", id, ip);
        reply = "-ERR malformed command\r\n";
      } else if (parsed.command->verb == pop3::Verb::pass) {
        co_return true;
      } else if (parsed.command->verb == pop3::Verb::capa) {
        // RFC 2449: USER login, response codes. No SASL is offered, so clients use USER/PASS.
        reply = "+OK capability list follows\r\nUSER\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n.\r\n";
      } else if (parsed.command->verb == pop3::Verb::user || parsed.command->verb == pop3::Verb::noop) {
        reply = "+OK\r\n";
      } else if (parsed.command->verb == pop3::Verb::quit) {
        co_await write_all(client, "+OK bye\r\n", t);
        co_return false;
      } else {
        reply = "-ERR use USER and PASS\r\n";
      }
      bool sent = co_await write_all(client, reply, t);
      if (!sent) co_return false;
    }
  }

  // Step 104: the subscriber's real POP3 server, TLS per the profile (implicit, or STLS: RFC 2595),
  // then USER/PASS with the stored credentials. nullopt when logged in.
  asio::awaitable<std::optional<Refusal>> open_and_login(net::Conn& upstream, std::string& ubuf,
                                                         const mail::Identified& me, std::uint64_t id,
                                                         SessionState& state) {
    const auto t = std::chrono::seconds(cfg.upstream_timeout);
    const auto& p = me.profile;
    std::string why;
    auto opened = co_await net::open_upstream(upstream, *p.pop3, p.pop3_tls, *tls, t, why);
    std::optional<std::string> greeting;
    if (opened == net::UpstreamOpen::ok) greeting = co_await read_line(upstream, ubuf, 4096, t);
    if (greeting && pop3::is_ok(*greeting) && p.pop3_tls == net::TlsMode::starttls) {
      // RFC 2595 4: STLS; nothing the server sent before the handshake may be kept.
      std::optional<std::string> stls;
      bool sent = co_await write_all(upstream, "STLS\r\n", t);
      if (sent) stls = co_await read_line(upstream, ubuf, 4096, t);
      opened = net::UpstreamOpen::tls_failed;
      why = "the server refused STLS";
      if (stls && pop3::is_ok(*stls) && ubuf.empty()) {
        auto failed = co_await upstream.start_tls(*tls, p.pop3->host, t, why);
        if (!failed) opened = net::UpstreamOpen::ok;
      }
    }
    if (opened == net::UpstreamOpen::tls_failed) {
      spdlog::warn("pop3 #{}: TLS to mail server {} for msisdn {} failed: {}", id, p.pop3->str(),
                   me.who.session.msisdn, why);
      co_return Refusal::upstream_tls_failed;
    }
    if (!greeting || !pop3::is_ok(*greeting)) {
      spdlog::warn("pop3 #{}: mail server {} for msisdn {} unreachable: {}", id, p.pop3->str(),
                   me.who.session.msisdn, why.empty() ? "no +OK greeting" : why);
      co_return Refusal::upstream_unreachable;
    }
    state = SessionState::logging_in;
    auto answer = co_await user_pass(upstream, ubuf, p, t);
    if (!answer) co_return Refusal::upstream_unreachable;
    if (!pop3::is_ok(*answer)) {
      spdlog::warn(
          "pop3 #{}: {} rejected the stored credentials of msisdn {} (user {}): the account needs attention",
          id, p.pop3->str(), me.who.session.msisdn, p.user);
      co_return Refusal::upstream_rejected_credentials;
    }
    co_return std::nullopt;
  }

  // USER then PASS; the server's last answer (a refused USER is reported like a refused PASS).
  asio::awaitable<std::optional<std::string>> user_pass(net::Conn& upstream, std::string& ubuf,
                                                        const MailProfile& p, std::chrono::seconds t) {
    // Named commands, no co_await inside ?: or &&: GCC 12 miscompiles those in coroutines.
    const std::string user = "USER " + p.user + "\r\n", pass = "PASS " + p.password + "\r\n";
    bool sent = co_await write_all(upstream, user, t);
    if (!sent) co_return std::nullopt;
    auto r1 = co_await read_line(upstream, ubuf, 4096, t);
    if (!r1 || !pop3::is_ok(*r1)) co_return r1;
    sent = co_await write_all(upstream, pass, t);
    if (!sent) co_return std::nullopt;
    auto r2 = co_await read_line(upstream, ubuf, 4096, t);
    co_return r2;
  }
};

}  // namespace

std::unique_ptr<TcpService> make_pop3_proxy(const MailShared& shared) {
  return mail::serve_proxy<Pop3Proxy>(shared, "pop3", *shared.cfg.pop3_listen);
}

}  // namespace mobix
