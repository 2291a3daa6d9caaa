#include "mail/mail_proxies.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/smtp/smtp.hpp"
#include "core/metrics.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_factory.hpp"
#include "net/conn.hpp"
#include "net/smtp_client.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::ehlo_keyword;
using net::read_line;
using net::read_reply;
using net::write_all;

namespace {

Counter& failure_counter(const std::string& reason) {
  return metrics().counter("mobix_mail_smtp_failures_total",
                           "SMTP proxy requests refused or failed, by reason", "reason=\"" + reason + "\"");
}

bool has_word(const std::string& words, const std::string& w) {
  return (" " + words + " ").find(" " + w + " ") != std::string::npos;
}

// The upstream leg: connected and authenticated once per client connection.
struct Upstream {
  net::Conn conn;
  std::string buf;
  explicit Upstream(asio::io_context& io) : conn(io.get_executor()) {}
};

// One SMTP proxy: its sessions share the config, the session table and the directory.
struct SmtpProxy : mail::ProxyBase {
  using ProxyBase::ProxyBase;
  Counter& messages =
      metrics().counter("mobix_mail_smtp_messages_total", "Messages relayed with a rewritten sender");

  asio::awaitable<std::optional<smtp::Reply>> command(Upstream& up, std::string line,
                                                      std::chrono::seconds t) {
    // Not std::move(line): GCC 12 double-frees a moved coroutine parameter here.
    bool sent = co_await write_all(up.conn, line, t);
    if (!sent) co_return std::nullopt;
    auto reply = co_await read_reply(up.conn, up.buf, t);
    co_return reply;
  }

  // Connects (TLS per the profile), reads the greeting, EHLO, STARTTLS when asked for (RFC 3207),
  // and AUTH PLAIN or LOGIN (RFC 4954) when the profile has credentials.
  // On failure returns the reply for the handset.
  asio::awaitable<std::string> open_upstream(Upstream& up, const MailProfile& p, const SessionRecord& s,
                                             std::uint64_t id) {
    const auto t = std::chrono::seconds(cfg.upstream_timeout);
    std::string why;
    auto opened = co_await net::open_upstream(up.conn, *p.smtp, p.smtp_tls, *tls, t, why);
    std::optional<smtp::Reply> greet;
    if (opened == net::UpstreamOpen::ok) greet = co_await read_reply(up.conn, up.buf, t);
    std::optional<smtp::Reply> ehlo;
    if (greet && greet->code == 220) ehlo = co_await command(up, "EHLO mobix\r\n", t);
    if (ehlo && ehlo->code == 250 && p.smtp_tls == net::TlsMode::starttls) {
      std::optional<smtp::Reply> r;
      if (ehlo_keyword(*ehlo, "STARTTLS")) r = co_await command(up, "STARTTLS\r\n", t);
      // Nothing the server sent before the handshake may be kept (the STARTTLS injection flaw).
      if (!r || r->code != 220 || !up.buf.empty()) {
        opened = net::UpstreamOpen::tls_failed;
        why = "the server did not offer or accept STARTTLS";
      } else if (co_await up.conn.start_tls(*tls, p.smtp->host, t, why)) {
        opened = net::UpstreamOpen::tls_failed;
      } else {
        ehlo = co_await command(up, "EHLO mobix\r\n", t);  // RFC 3207 4.2: forget what was learnt before
      }
    }
    if (opened == net::UpstreamOpen::tls_failed) {
      failure_counter("upstream_tls_failed").inc();
      spdlog::warn("smtp #{}: TLS to submission server {} for msisdn {} failed: {}", id, p.smtp->str(),
                   s.msisdn, why);
      co_return "454 4.7.0 no secure connection to the mail server; try again later\r\n";
    }
    if (!ehlo || ehlo->code != 250) {
      failure_counter("upstream_unreachable").inc();
      spdlog::warn("smtp #{}: submission server {} for msisdn {} unreachable: {}", id, p.smtp->str(),
                   s.msisdn, why.empty() ? "no 220/250 reply" : why);
      co_return "451 4.4.1 the mail server is not reachable; try again later\r\n";
    }
    if (p.smtp_user.empty()) co_return "";
    // PLAIN when offered (one round trip), else LOGIN; a server that lists neither gets PLAIN.
    auto mechs = ehlo_keyword(*ehlo, "AUTH").value_or("");
    std::optional<smtp::Reply> auth;
    if (has_word(mechs, "PLAIN") || !has_word(mechs, "LOGIN")) {
      // RFC 4616: authzid NUL authcid NUL passwd.
      std::string plain;
      plain.push_back('\0');
      plain += p.smtp_user;
      plain.push_back('\0');
      plain += p.smtp_password;
      auth = co_await command(up, "AUTH PLAIN " + smtp::base64(plain) + "\r\n", t);
    } else {
      // draft-murchison-sasl-login: the user name and the password, each after a 334 prompt.
      auth = co_await command(up, "AUTH LOGIN " + smtp::base64(p.smtp_user) + "\r\n", t);
      if (auth && auth->code == 334) auth = co_await command(up, smtp::base64(p.smtp_password) + "\r\n", t);
    }
    if (!auth) {
      failure_counter("upstream_unreachable").inc();
      co_return "451 4.4.1 the mail server did not answer; try again later\r\n";
    }
    if (auth->code != 235) {
      failure_counter("upstream_rejected_credentials").inc();
      spdlog::warn(
          "smtp #{}: {} rejected the stored credentials of msisdn {} (user {}): the account needs attention",
          id, p.smtp->str(), s.msisdn, p.smtp_user);
      co_return "554 5.7.8 the mail server rejected this subscriber's stored credentials; the account needs "
                "attention from customer care\r\n";
    }
    co_return "";
  }

  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto client_ip = canonical(peer.address());
    auto ip = client_ip.to_string();
    sock.set_option(tcp::no_delay(true), ec);
    net::Conn client(std::move(sock));
    const auto t = std::chrono::seconds(300);  // RFC 5321 4.5.3.2.7: server timeout 5 minutes
    const auto up_t = std::chrono::seconds(cfg.upstream_timeout);

    if (!in_ranges(cfg.access_ranges, client_ip)) {
      failure_counter("outside_access_range").inc();
      co_await write_all(client, "554 5.7.1 this service is only for handsets on the mobile network\r\n", t);
      co_return;
    }
    if (failures.blocked(ip)) {
      failure_counter("rate_limited").inc();
      co_await write_all(client, "421 4.7.0 too many failed attempts from this address; try again later\r\n",
                         t);
      co_return;
    }
    if (!co_await write_all(client, "220 mobix ESMTP submission proxy ready\r\n", t)) co_return;

    std::string buf;
    std::unique_ptr<Upstream> up;
    std::optional<MailProfile> profile;
    std::string msisdn;
    bool in_transaction = false;
    for (;;) {
      auto line = co_await read_line(client, buf, smtp::kMaxCommandLine, t);
      if (!line) {
        if (buf.size() >= smtp::kMaxCommandLine) {
          failure_counter("line_too_long").inc();
          co_await write_all(client, "500 5.5.2 line too long\r\n", t);
        }
        break;
      }
      auto cmd = smtp::parse_command(*line);
      if (!cmd) {
        failure_counter("bad_command").inc();
        if (!co_await write_all(client, "500 5.5.2 syntax error\r\n", t)) break;
        continue;
      }
      std::string reply;
      if (cmd->verb == "EHLO") {
        reply = fmt::format(
            "250-mobix\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
            "250 AUTH PLAIN LOGIN\r\n",
            cfg.max_message_size);
      } else if (cmd->verb == "HELO") {
        reply = "250 mobix\r\n";
      } else if (cmd->verb == "AUTH") {
        // The handset's default credentials are accepted and ignored: the network already
        // knows the subscriber (seed 000 step 202). LOGIN/PLAIN without initial response
        // get their prompts first.
        auto mech = cmd->argument.substr(0, cmd->argument.find(' '));
        for (auto& ch : mech) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        bool initial_response = cmd->argument.find(' ') != std::string::npos;
        std::vector<std::string> prompts;  // RFC 4954 4: "334" challenges before each client line
        if (mech == "PLAIN" && !initial_response) prompts = {"334 \r\n"};
        if (mech == "LOGIN") {
          if (!initial_response) prompts.push_back("334 VXNlcm5hbWU6\r\n");  // "Username:"
          prompts.push_back("334 UGFzc3dvcmQ6\r\n");                         // "Password:"
        }
        if (mech != "LOGIN" && mech != "PLAIN") {
          reply = "504 5.5.4 unsupported mechanism\r\n";
        } else {
          bool ok = true;
          for (const auto& prompt : prompts) {
            if (!co_await write_all(client, prompt, t)) {
              ok = false;
              break;
            }
            auto answer = co_await read_line(client, buf, smtp::kMaxCommandLine, t);
            if (!answer) {
              ok = false;
              break;
            }
          }
          if (!ok) break;
          reply = "235 2.7.0 accepted: the mobile network identifies you\r\n";
        }
      } else if (cmd->verb == "MAIL") {
        auto mf = smtp::parse_mail_from(cmd->argument);
        if (!mf) {
          reply = "501 5.5.4 syntax: MAIL FROM:<address>\r\n";
        } else if (in_transaction) {
          reply = "503 5.5.1 nested MAIL command\r\n";
        } else {
          // Steps 202-203: IP -> session -> subscriber -> mail account. Never an open relay.
          auto who = co_await mail::identify(sessions, dir, directory_pool, ip);
          if (!who) {
            failures.record(ip);
            failure_counter("no_session").inc();
            spdlog::info("smtp #{}: no live access session for {}: refused", id, ip);
            reply = "550 5.7.1 no mobile session is known for this address; relaying denied\r\n";
          } else if (who->directory_unavailable) {
            failure_counter("directory_unavailable").inc();
            reply = "451 4.4.3 the subscriber directory is not reachable; try again later\r\n";
          } else if (!(profile = who->subscriber ? smtp_profile(*who->subscriber) : std::nullopt)) {
            failure_counter("no_mail_account").inc();
            spdlog::warn("smtp #{}: msisdn {} ({}) has no submission account in the directory", id,
                         who->session.msisdn, ip);
            reply = "550 5.7.1 no mail account is provisioned for this subscriber\r\n";
          } else {
            msisdn = who->session.msisdn;
            if (!up) {
              up = std::make_unique<Upstream>(io);
              auto err = co_await open_upstream(*up, *profile, who->session, id);
              if (!err.empty()) {
                up.reset();
                reply = err;
              }
            }
            if (up) {
              // Step 204: the default sender is replaced by the subscriber's address.
              std::optional<smtp::Reply> r;
              if (co_await write_all(up->conn,
                                     "MAIL FROM:<" + profile->address + ">" + mf->parameters + "\r\n", up_t))
                r = co_await read_reply(up->conn, up->buf, up_t);
              if (!r) {
                up.reset();
                reply = "451 4.4.1 the mail server did not answer; try again later\r\n";
              } else {
                reply = r->text;
                in_transaction = r->positive();
              }
            }
          }
        }
      } else if (cmd->verb == "RCPT") {
        if (!in_transaction || !up) {
          reply = "503 5.5.1 need MAIL first\r\n";
        } else {
          std::optional<smtp::Reply> r;
          if (co_await write_all(up->conn, *line + "\r\n", up_t))
            r = co_await read_reply(up->conn, up->buf, up_t);
          reply = r ? r->text : "451 4.4.1 the mail server did not answer\r\n";
        }
      } else if (cmd->verb == "DATA") {
        if (!in_transaction || !up) {
          reply = "503 5.5.1 need MAIL and RCPT first\r\n";
        } else {
          std::optional<smtp::Reply> r;
          if (co_await write_all(up->conn, "DATA\r\n", up_t))
            r = co_await read_reply(up->conn, up->buf, up_t);
          if (!r || r->code != 354) {
            reply = r ? r->text : "451 4.4.1 the mail server did not answer\r\n";
            if (!r) up.reset();
          } else {
            if (!co_await write_all(client, r->text, t)) break;
            // Read the (dot-stuffed) message up to the lone ".", within the size limit.
            std::string data;
            bool too_big = false, eof = false;
            for (;;) {
              auto l = co_await read_line(client, buf, smtp::kMaxTextLine * 64, t);
              if (!l) {
                eof = true;
                break;
              }
              if (*l == ".") break;
              if (data.size() + l->size() + 2 > cfg.max_message_size) too_big = true;
              if (!too_big) data += *l + "\r\n";
            }
            if (eof) break;
            in_transaction = false;
            if (too_big) {
              failure_counter("message_too_big").inc();
              co_await write_all(up->conn, "\r\n.\r\n", up_t);  // end upstream DATA, then discard it
              co_await read_reply(up->conn, up->buf, up_t);
              co_await write_all(up->conn, "RSET\r\n", up_t);
              co_await read_reply(up->conn, up->buf, up_t);
              reply = fmt::format("552 5.3.4 message exceeds the size limit of {} octets\r\n",
                                  cfg.max_message_size);
            } else {
              // Step 204: From: carries the subscriber's name and address; every other byte is unchanged.
              auto rewritten = smtp::rewrite_from(data, profile->address, profile->full_name);
              std::optional<smtp::Reply> fin;
              if (co_await write_all(up->conn, rewritten + ".\r\n", up_t))
                fin = co_await read_reply(up->conn, up->buf, up_t);
              reply = fin ? fin->text : "451 4.4.1 the mail server did not confirm the message\r\n";
              if (fin && fin->positive()) {
                messages.inc();
                spdlog::info("smtp #{}: msisdn {} sent a message as {} via {}", id, msisdn, profile->address,
                             profile->smtp->str());
              }
            }
          }
        }
      } else if (cmd->verb == "RSET") {
        in_transaction = false;
        if (up) {
          co_await write_all(up->conn, "RSET\r\n", up_t);
          co_await read_reply(up->conn, up->buf, up_t);
        }
        reply = "250 2.0.0 OK\r\n";
      } else if (cmd->verb == "NOOP") {
        reply = "250 2.0.0 OK\r\n";
      } else if (cmd->verb == "QUIT") {
        if (up) {
          co_await write_all(up->conn, "QUIT\r\n", up_t);
          co_await read_reply(up->conn, up->buf, up_t);
        }
        co_await write_all(client, "221 2.0.0 bye\r\n", t);
        break;
      } else if (cmd->verb == "VRFY") {
        reply = "252 2.5.2 cannot verify\r\n";
      } else {
        reply = "502 5.5.1 command not implemented\r\n";
      }
      if (!co_await write_all(client, reply, t)) break;
    }
  }
};

}  // namespace

std::unique_ptr<TcpService> make_smtp_proxy(const MailShared& shared) {
  return mail::serve_proxy<SmtpProxy>(shared, "smtp", *shared.cfg.smtp_listen);
}

}  // namespace mobix
