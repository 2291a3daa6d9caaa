#include "mail/mail_proxies.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/imap/imap.hpp"
#include "core/metrics.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_factory.hpp"
#include "net/conn.hpp"
#include "net/conn_relay.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::read_line;
using net::write_all;

namespace {

constexpr std::size_t kMaxLine = 8192;
constexpr std::size_t kMaxLiteral = 1024;  // credentials only: nothing bigger before login

Counter& failure_counter(const std::string& reason) {
  return metrics().counter("mobix_mail_imap_failures_total",
                           "IMAP proxy sessions that did not reach the mailbox", "reason=\"" + reason + "\"");
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One IMAP proxy: its sessions share the config, the session table and the directory.
struct ImapProxy : mail::ProxyBase {
  using ProxyBase::ProxyBase;
  Counter& logged_in =
      metrics().counter("mobix_mail_imap_logins_total", "IMAP logins made on a subscriber's behalf");

  // Sends one command upstream and returns the text after its tag, skipping untagged lines.
  static asio::awaitable<std::optional<std::string>> tagged(net::Conn& up, std::string& ubuf,
                                                            std::string command, std::string tag,
                                                            std::chrono::seconds t) {
    // Not std::move(command): GCC 12 double-frees a moved coroutine parameter here.
    bool sent = co_await write_all(up, command, t);
    if (!sent) co_return std::nullopt;
    for (int i = 0; i < 50; ++i) {
      auto l = co_await read_line(up, ubuf, kMaxLine, t);
      if (!l) break;
      if (l->rfind(tag, 0) == 0) co_return l->substr(tag.size());
    }
    co_return std::nullopt;
  }

  // Reads a command line including any literals it carries ({n} / {n+}), which are dropped.
  asio::awaitable<std::optional<std::string>> read_command(net::Conn& client, std::string& buf,
                                                           std::chrono::seconds t) {
    auto line = co_await read_line(client, buf, kMaxLine, t);
    if (!line) co_return std::nullopt;
    std::string full = *line;
    for (int literals = 0; literals < 4; ++literals) {
      auto lit = imap::literal_at_end(*line);
      if (!lit) co_return full;
      if (lit->size > kMaxLiteral) co_return std::nullopt;
      if (!lit->non_synchronizing) {
        if (!co_await write_all(client, "+ go ahead\r\n", t)) co_return std::nullopt;
      }
      if (!co_await net::read_at_least(client, buf, lit->size, t)) co_return std::nullopt;
      buf.erase(0, lit->size);
      line = co_await read_line(client, buf, kMaxLine, t);
      if (!line) co_return std::nullopt;
      full += " <literal>" + *line;
    }
    co_return std::nullopt;
  }

  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto client_ip = canonical(peer.address());
    auto ip = client_ip.to_string();
    sock.set_option(tcp::no_delay(true), ec);
    net::Conn client(std::move(sock));
    const auto t = std::chrono::seconds(cfg.imap_command_timeout);
    const auto up_t = std::chrono::seconds(cfg.upstream_timeout);
    const auto idle = std::chrono::seconds(cfg.idle_timeout);

    if (!in_ranges(cfg.access_ranges, client_ip)) {
      failure_counter("outside_access_range").inc();
      co_await write_all(
          client, "* BYE [UNAVAILABLE] this service is only for handsets on the mobile network\r\n", t);
      co_return;
    }
    if (failures.blocked(ip)) {
      failure_counter("rate_limited").inc();
      co_await write_all(
          client, "* BYE [UNAVAILABLE] too many failed logins from this address; try again later\r\n", t);
      co_return;
    }
    if (!co_await write_all(client,
                            "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] mobix IMAP proxy ready\r\n", t))
      co_return;

    std::string buf, tag;
    for (;;) {
      auto line = co_await read_command(client, buf, t);
      if (!line) {
        failure_counter("bad_command").inc();
        co_await write_all(client, "* BYE line or literal too long, or timeout\r\n", t);
        co_return;
      }
      auto parsed = imap::parse_command(*line);
      if (!parsed) {
        failure_counter("bad_command").inc();
        if (!co_await write_all(client, "* BAD malformed command\r\n", t)) co_return;
        continue;
      }
      tag = parsed->tag;
      const auto& cmd = parsed->name;
      const auto& args = parsed->args;
      if (cmd == "CAPABILITY") {
        if (!co_await write_all(client,
                                "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n" + tag + " OK done\r\n", t))
          co_return;
        continue;
      }
      if (cmd == "NOOP") {
        if (!co_await write_all(client, tag + " OK done\r\n", t)) co_return;
        continue;
      }
      if (cmd == "LOGOUT") {
        co_await write_all(client, "* BYE logging out\r\n" + tag + " OK done\r\n", t);
        co_return;
      }
      if (cmd == "LOGIN") break;  // the handset's default credentials are ignored (step 102)
      if (cmd == "AUTHENTICATE") {
        auto mech = upper(args.substr(0, args.find(' ')));
        if (mech != "PLAIN") {
          if (!co_await write_all(client, tag + " NO [CANNOT] only PLAIN is offered\r\n", t)) co_return;
          continue;
        }
        if (args.find(' ') == std::string::npos) {  // no SASL-IR: ask for the response
          if (!co_await write_all(client, "+ \r\n", t)) co_return;
          if (!co_await read_line(client, buf, kMaxLine, t)) co_return;
        }
        break;
      }
      if (!co_await write_all(client, tag + " BAD command not valid before login\r\n", t)) co_return;
    }

    // Steps 102-103: IP -> session -> subscriber -> mail account.
    auto who = co_await mail::identify(sessions, dir, directory_pool, ip);
    if (!who) {
      failures.record(ip);
      failure_counter("no_session").inc();
      spdlog::info("imap #{}: no live access session for {}", id, ip);
      co_await write_all(
          client, tag + " NO [AUTHENTICATIONFAILED] no mobile session is known for this address\r\n", t);
      co_return;
    }
    if (who->directory_unavailable) {
      failure_counter("directory_unavailable").inc();
      co_await write_all(
          client, tag + " NO [UNAVAILABLE] the subscriber directory is not reachable; try again later\r\n",
          t);
      co_return;
    }
    auto profile = who->subscriber ? imap_profile(*who->subscriber) : std::nullopt;
    const auto& msisdn = who->session.msisdn;
    auto q_user = profile ? imap::quoted(profile->user) : std::nullopt;
    auto q_pass = profile ? imap::quoted(profile->password) : std::nullopt;
    if (!profile || !q_user || !q_pass) {
      failure_counter("no_mail_account").inc();
      spdlog::warn("imap #{}: msisdn {} ({}) has no usable IMAP account in the directory", id, msisdn, ip);
      co_await write_all(
          client, tag + " NO [AUTHENTICATIONFAILED] no mail account is provisioned for this subscriber\r\n",
          t);
      co_return;
    }

    // Step 104: LOGIN at the subscriber's real IMAP server (TLS per the profile).
    net::Conn upstream(io.get_executor());
    std::string ubuf, why;
    auto opened = co_await net::open_upstream(upstream, *profile->imap, profile->imap_tls, *tls, up_t, why);
    std::optional<std::string> greeting;
    if (opened == net::UpstreamOpen::ok) greeting = co_await read_line(upstream, ubuf, kMaxLine, up_t);
    bool greeted = greeting && greeting->rfind("* OK", 0) == 0;
    if (greeted && profile->imap_tls == net::TlsMode::starttls) {
      // RFC 9051 6.2.1: STARTTLS; nothing the server sent before the handshake may be kept.
      auto r = co_await tagged(upstream, ubuf, "m0 STARTTLS\r\n", "m0 ", up_t);
      if (!r || r->rfind("OK", 0) != 0 || !ubuf.empty()) {
        opened = net::UpstreamOpen::tls_failed;
        why = "the server refused STARTTLS";
      } else if (co_await upstream.start_tls(*tls, profile->imap->host, up_t, why)) {
        opened = net::UpstreamOpen::tls_failed;
      }
    }
    if (opened == net::UpstreamOpen::tls_failed) {
      failure_counter("upstream_tls_failed").inc();
      spdlog::warn("imap #{}: TLS to mail server {} for msisdn {} failed: {}", id, profile->imap->str(),
                   msisdn, why);
      co_await write_all(
          client, tag + " NO [UNAVAILABLE] no secure connection to the mail server; try again later\r\n", t);
      co_return;
    }
    std::optional<std::string> done;
    if (greeted)
      done = co_await tagged(upstream, ubuf, "m1 LOGIN " + *q_user + " " + *q_pass + "\r\n", "m1 ", up_t);
    if (!done) {
      failure_counter("upstream_unreachable").inc();
      spdlog::warn("imap #{}: mail server {} for msisdn {} unreachable: {}", id, profile->imap->str(), msisdn,
                   why.empty() ? "no * OK greeting" : why);
      co_await write_all(client,
                         tag + " NO [UNAVAILABLE] the mail server is not reachable; try again later\r\n", t);
      co_return;
    }
    if (done->rfind("OK", 0) != 0) {
      failure_counter("upstream_rejected_credentials").inc();
      spdlog::warn(
          "imap #{}: {} rejected the stored credentials of msisdn {} (user {}): the account needs attention",
          id, profile->imap->str(), msisdn, profile->user);
      co_await write_all(
          client,
          tag +
              " NO [CONTACTADMIN] the mail server rejected this subscriber's stored credentials; the "
              "account needs attention from customer care\r\n",
          t);
      co_return;
    }
    logged_in.inc();
    spdlog::info("imap #{}: {} is msisdn {}: logged in to {} as {}", id, ip, msisdn, profile->imap->str(),
                 profile->user);
    // The upstream's tagged OK (with its CAPABILITY response code) answers the handset's command.
    if (!co_await write_all(client, tag + " " + *done + "\r\n", t)) co_return;
    if (!ubuf.empty()) {
      if (!co_await write_all(client, ubuf, idle)) co_return;
    }
    if (!buf.empty()) {
      if (!co_await write_all(upstream, buf, idle)) co_return;
    }
    // Steps 105-106.
    auto bytes = co_await net::relay(client, upstream, idle, std::chrono::seconds(cfg.session_timeout));
    if (bytes.timed_out) {
      failure_counter("session_timeout").inc();
      spdlog::info("imap #{}: msisdn {} reached the session time limit of {} s", id, msisdn,
                   cfg.session_timeout);
    }
    spdlog::info("imap #{}: done ({} bytes down, {} up)", id, bytes.down, bytes.up);
  }
};

}  // namespace

std::unique_ptr<TcpService> make_imap_proxy(const MailShared& shared) {
  return mail::serve_proxy<ImapProxy>(shared, "imap", *shared.cfg.imap_listen);
}

}  // namespace mobix
