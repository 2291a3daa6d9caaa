#include "mail/mail_proxies.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/imap/imap.hpp"
#include "core/metrics.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_base.hpp"
#include "net/conn.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::read_line;
using net::write_all;

namespace {

constexpr std::size_t kMaxLine = 8192;
constexpr std::size_t kMaxLiteral = 1024;  // credentials only: nothing bigger before login

using mail::Refusal;
using mail::SessionState;
using namespace boost::asio::experimental::awaitable_operators;

// IMAP's words for each refusal (RFC 5530 response codes): tagged NO after the login command,
// BYE before the greeting.
std::string refusal_reply(Refusal r, const std::string& tag) {
  switch (r) {
    case Refusal::outside_access_range:
      return "* BYE [UNAVAILABLE] this service is only for handsets on the mobile network\r\n";
    case Refusal::rate_limited:
      return "* BYE [UNAVAILABLE] too many failed logins from this address; try again later\r\n";
    case Refusal::no_session:
      return tag + " NO [AUTHENTICATIONFAILED] no mobile session is known for this address\r\n";
    case Refusal::directory_unavailable:
      return tag + " NO [UNAVAILABLE] the subscriber directory is not reachable; try again later\r\n";
    case Refusal::no_mail_account:
      return tag + " NO [AUTHENTICATIONFAILED] no mail account is provisioned for this subscriber\r\n";
    case Refusal::upstream_tls_failed:
      return tag + " NO [UNAVAILABLE] no secure connection to the mail server; try again later\r\n";
    case Refusal::upstream_unreachable:
      return tag + " NO [UNAVAILABLE] the mail server is not reachable; try again later\r\n";
    case Refusal::upstream_rejected_credentials:
      break;
  }
  return tag +
         " NO [CONTACTADMIN] the mail server rejected this subscriber's stored credentials; the account "
         "needs "
         "attention from customer care\r\n";
}

// An account IMAP can log in with: its user name and password must be quotable (RFC 9051 4.3).
std::optional<MailProfile> imap_login_profile(const Subscriber& s) {
  auto p = imap_profile(s);
  if (p && (!imap::quoted(p->user) || !imap::quoted(p->password))) return std::nullopt;
  return p;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// One IMAP proxy: its sessions share the config, the session table and the directory.
struct ImapProxy : mail::ProxyBase {
  explicit ImapProxy(const MailShared& s) : ProxyBase(s, {"imap", refusal_reply}) {}
  Counter& logged_in =
      metrics().counter("mobix_mail_imap_logins_total", "IMAP logins made on a subscriber's behalf");

  // Sends one command upstream and returns its tagged response, skipping untagged lines.
  static asio::awaitable<std::optional<imap::TaggedResponse>> tagged(net::Conn& up, std::string& ubuf,
                                                                     std::string command, std::string tag,
                                                                     std::chrono::seconds t) {
    // Not std::move(command): GCC 12 double-frees a moved coroutine parameter here.
    bool sent = co_await write_all(up, command, t);
    if (!sent) co_return std::nullopt;
    for (int i = 0; i < 50; ++i) {
      auto l = co_await read_line(up, ubuf, kMaxLine, t);
      if (!l) break;
      if (auto r = imap::parse_tagged(*l, tag)) co_return r;
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

  // TCP_NODELAY is set on both legs (net::Leg): Nagle stalls one-at-a-time RETR (ENVIRONMENT.md).
  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    return run_session(*this, std::move(sock), id);
  }

  // Greeting, the handset's commands up to LOGIN/AUTHENTICATE, identification and the upstream
  // login; true once logged in (the handset has its tagged OK), false when the session is over.
  asio::awaitable<bool> log_in(mail::RelaySession& s, std::uint64_t id) {
    auto& client = s.client;
    const auto t = std::chrono::seconds(cfg.imap_command_timeout);
    if (auto refused = admission(s.client_ip, id)) {
      auto reply = text.refusal(*refused, {});
      co_await write_all(client, reply, t);
      co_return false;
    }
    const std::string greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] mobix IMAP proxy ready\r\n";
    if (!co_await write_all(client, greeting, t)) co_return false;
    std::string tag;  // the handset's LOGIN/AUTHENTICATE, answered after the upstream login
    // The handset's commands up to its login and steps 102-104 at once, as for POP3: who it is
    // comes from its address, never from what it sends (issue 17 item 3: login overhead).
    auto [login, up] = co_await (
        await_login(client, s.client_buf, tag, id, s.ip) &&
        identify_and_login(
            s.ip, id, imap_login_profile, [this, &s, id](const mail::Identified& me, mail::Login& login) {
              return open_and_login(s.upstream, s.upstream_buf, me, id, login.state, login.done);
            }));
    if (!login) co_return false;  // the upstream connection closes with the session
    if (up.refused) {
      auto reply = refuse(*up.refused, id, std::string("while ") + mail::to_string(up.state), tag);
      co_await write_all(client, reply, t);
      co_return false;
    }
    const auto& me = *up.me;
    logged_in.inc();
    spdlog::info("imap #{}: {} is msisdn {}: logged in to {} as {}", id, s.ip, me.who.session.msisdn,
                 me.profile.imap->str(), me.profile.user);
    s.msisdn = me.who.session.msisdn;
    // The upstream's tagged OK (with its CAPABILITY response code) answers the handset's command.
    const std::string ok = tag + " " + up.done + "\r\n";
    const bool sent = co_await write_all(client, ok, t);
    co_return sent;
  }

  // The handset's commands before it logs in; true at LOGIN or AUTHENTICATE PLAIN (its default
  // credentials are ignored: step 102 knows who it is), with the command's tag in `tag`.
  asio::awaitable<bool> await_login(net::Conn& client, std::string& buf, std::string& tag, std::uint64_t id,
                                    std::string ip) {
    const auto t = std::chrono::seconds(cfg.imap_command_timeout);
    for (;;) {
      auto line = co_await read_command(client, buf, t);
      if (!line) {
        protocol_error("bad_command", id, ip);
        co_await write_all(client, "* BYE line or literal too long, or timeout\r\n", t);
        co_return false;
      }
      auto parsed = imap::parse_command(*line);
      std::string reply;
      if (!parsed) {
        protocol_error("bad_command", id, ip);
        reply = "* BAD malformed command\r\n";
      } else {
        tag = parsed->tag;
        const auto& cmd = parsed->name;
        if (cmd == "LOGIN") co_return true;
        if (cmd == "CAPABILITY") {
          reply = "* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\n" + tag + " OK done\r\n";
        } else if (cmd == "NOOP") {
          reply = tag + " OK done\r\n";
        } else if (cmd == "LOGOUT") {
          const std::string bye = "* BYE logging out\r\n" + tag + " OK done\r\n";
          co_await write_all(client, bye, t);
          co_return false;
        } else if (cmd == "AUTHENTICATE") {
          auto plain = co_await authenticate_plain(client, buf, parsed->args, t);
          if (plain) co_return *plain;
          reply = tag + " NO [CANNOT] only PLAIN is offered\r\n";
        } else {
          reply = tag + " BAD command not valid before login\r\n";
        }
      }
      bool sent = co_await write_all(client, reply, t);
      if (!sent) co_return false;
    }
  }

  // AUTHENTICATE: nullopt when the mechanism is not PLAIN; otherwise whether the response arrived
  // (read after a continuation when the client did not send it inline, RFC 4959).
  asio::awaitable<std::optional<bool>> authenticate_plain(net::Conn& client, std::string& buf,
                                                          const std::string& args, std::chrono::seconds t) {
    auto mech = upper(args.substr(0, args.find(' ')));
    if (mech != "PLAIN") co_return std::nullopt;
    if (args.find(' ') != std::string::npos) co_return true;
    bool sent = co_await write_all(client, "+ \r\n", t);
    if (!sent) co_return false;
    auto response = co_await read_line(client, buf, kMaxLine, t);
    co_return response.has_value();
  }

  // Step 104: LOGIN at the subscriber's real IMAP server, TLS per the profile (implicit, or
  // STARTTLS: RFC 9051 6.2.1). nullopt when logged in, with the server's tagged answer in `done`.
  asio::awaitable<std::optional<Refusal>> open_and_login(net::Conn& upstream, std::string& ubuf,
                                                         const mail::Identified& me, std::uint64_t id,
                                                         SessionState& state, std::string& done) {
    const auto t = std::chrono::seconds(cfg.upstream_timeout);
    const auto& p = me.profile;
    std::string why;
    auto opened = co_await net::open_upstream(upstream, *p.imap, p.imap_tls, *tls, t, why);
    std::optional<std::string> greeting;
    if (opened == net::UpstreamOpen::ok) greeting = co_await read_line(upstream, ubuf, kMaxLine, t);
    bool greeted = greeting && imap::is_ok_greeting(*greeting);
    if (greeted && p.imap_tls == net::TlsMode::starttls) {
      // Nothing the server sent before the handshake may be kept.
      auto r = co_await tagged(upstream, ubuf, "m0 STARTTLS\r\n", "m0", t);
      opened = net::UpstreamOpen::tls_failed;
      why = "the server refused STARTTLS";
      if (r && r->status == imap::Status::ok && ubuf.empty()) {
        auto failed = co_await upstream.start_tls(*tls, p.imap->host, t, why);
        if (!failed) opened = net::UpstreamOpen::ok;
      }
    }
    if (opened == net::UpstreamOpen::tls_failed) {
      spdlog::warn("imap #{}: TLS to mail server {} for msisdn {} failed: {}", id, p.imap->str(),
                   me.who.session.msisdn, why);
      co_return Refusal::upstream_tls_failed;
    }
    state = SessionState::logging_in;
    std::optional<imap::TaggedResponse> answer;
    if (greeted) {
      const std::string login =
          "m1 LOGIN " + *imap::quoted(p.user) + " " + *imap::quoted(p.password) + "\r\n";
      answer = co_await tagged(upstream, ubuf, login, "m1", t);
    }
    if (!answer) {
      spdlog::warn("imap #{}: mail server {} for msisdn {} unreachable: {}", id, p.imap->str(),
                   me.who.session.msisdn, why.empty() ? "no * OK greeting" : why);
      co_return Refusal::upstream_unreachable;
    }
    if (answer->status != imap::Status::ok) {
      spdlog::warn(
          "imap #{}: {} rejected the stored credentials of msisdn {} (user {}): the account needs attention",
          id, p.imap->str(), me.who.session.msisdn, p.user);
      co_return Refusal::upstream_rejected_credentials;
    }
    done = answer->text.empty() ? "OK" : "OK " + answer->text;
    co_return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<TcpService> make_imap_proxy(const MailShared& shared) {
  return mail::serve_proxy<ImapProxy>(shared, "imap", *shared.cfg.imap_listen);
}

}  // namespace mobix
