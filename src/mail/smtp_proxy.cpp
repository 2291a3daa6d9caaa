#include "mail/mail_proxies.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/smtp/smtp.hpp"
#include "core/metrics.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_profile.hpp"
#include "mail/proxy_base.hpp"
#include "net/conn.hpp"
#include "net/smtp_client.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::read_line;
using net::read_reply;
using net::write_all;
using smtp::ehlo_keyword;

namespace {

using mail::Refusal;

// SMTP's words for each refusal (RFC 3463 enhanced status codes).
std::string refusal_reply(Refusal r, const std::string&) {
  switch (r) {
    case Refusal::outside_access_range:
      return "554 5.7.1 this service is only for handsets on the mobile network\r\n";
    case Refusal::rate_limited:
      return "421 4.7.0 too many failed attempts from this address; try again later\r\n";
    case Refusal::no_session:
      return "550 5.7.1 no mobile session is known for this address; relaying denied\r\n";
    case Refusal::directory_unavailable:
      return "451 4.4.3 the subscriber directory is not reachable; try again later\r\n";
    case Refusal::no_mail_account:
      return "550 5.7.1 no mail account is provisioned for this subscriber\r\n";
    case Refusal::upstream_tls_failed:
      return "454 4.7.0 no secure connection to the mail server; try again later\r\n";
    case Refusal::upstream_unreachable:
      return "451 4.4.1 the mail server is not reachable; try again later\r\n";
    case Refusal::upstream_rejected_credentials:
      break;
  }
  return "554 5.7.8 the mail server rejected this subscriber's stored credentials; the account needs "
         "attention "
         "from customer care\r\n";
}

bool has_word(const std::string& words, const std::string& w) {
  return (" " + words + " ").find(" " + w + " ") != std::string::npos;
}

// The upstream leg: connected and authenticated once per client connection.
struct Upstream {
  net::Conn conn;
  std::string buf;
  bool malformed = false;   ///< a reply broke RFC 5321 4.2.1 (a bad line, mixed codes, too many lines)
  bool pipelining = false;  ///< the server's EHLO offered PIPELINING (RFC 2920)
  explicit Upstream(asio::io_context& io) : conn(io.get_executor()) {}
};

// One SMTP proxy: its sessions share the config, the session table and the directory.
struct SmtpProxy : mail::ProxyBase {
  explicit SmtpProxy(const MailShared& s) : ProxyBase(s, {"smtp", refusal_reply}) {}
  Counter& messages =
      metrics().counter("mobix_mail_smtp_messages_total", "Messages relayed with a rewritten sender");
  Counter& pipelined =
      metrics().counter("mobix_mail_smtp_pipelined_commands_total",
                        "RCPT and DATA commands sent upstream in one write with their MAIL (RFC 2920)");

  asio::awaitable<std::optional<smtp::Reply>> command(Upstream& up, std::string line,
                                                      std::chrono::seconds t) {
    // Not std::move(line): GCC 12 double-frees a moved coroutine parameter here.
    bool sent = co_await write_all(up.conn, line, t);
    if (!sent) co_return std::nullopt;
    auto reply = co_await read_reply(up.conn, up.buf, t, &up.malformed);
    co_return reply;
  }

  // Connects (TLS per the profile), reads the greeting, EHLO, STARTTLS when asked for (RFC 3207),
  // and AUTH PLAIN or LOGIN (RFC 4954) when the profile has credentials.
  // nullopt when the session is ready for MAIL FROM.
  asio::awaitable<std::optional<Refusal>> open_upstream(Upstream& up, const MailProfile& p,
                                                        const SessionRecord& s, std::uint64_t id) {
    const auto t = std::chrono::seconds(cfg.upstream_timeout);
    std::string why;
    auto opened = co_await net::open_upstream(up.conn, *p.smtp, p.smtp_tls, *tls, t, why);
    std::optional<smtp::Reply> greet;
    if (opened == net::UpstreamOpen::ok) greet = co_await read_reply(up.conn, up.buf, t, &up.malformed);
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
      spdlog::warn("smtp #{}: TLS to submission server {} for msisdn {} failed: {}", id, p.smtp->str(),
                   s.msisdn, why);
      co_return Refusal::upstream_tls_failed;
    }
    if (!ehlo || ehlo->code != 250) {
      spdlog::warn(
          "smtp #{}: submission server {} for msisdn {} unreachable: {}", id, p.smtp->str(), s.msisdn,
          !why.empty()   ? why
          : up.malformed ? "a malformed reply (RFC 5321 4.2.1: a bad line, mixed codes or too many lines)"
                         : "no 220/250 reply");
      co_return Refusal::upstream_unreachable;
    }
    up.pipelining = ehlo_keyword(*ehlo, "PIPELINING").has_value();
    if (p.smtp_user.empty()) co_return std::nullopt;
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
      spdlog::warn("smtp #{}: submission server {} did not answer AUTH", id, p.smtp->str());
      co_return Refusal::upstream_unreachable;
    }
    if (auth->code != 235) {
      spdlog::warn(
          "smtp #{}: {} rejected the stored credentials of msisdn {} (user {}): the account needs attention",
          id, p.smtp->str(), s.msisdn, p.smtp_user);
      co_return Refusal::upstream_rejected_credentials;
    }
    co_return std::nullopt;
  }

  /// One handset connection (seed 000 steps 201-207). The mail transaction's state is explicit:
  /// before MAIL FROM, or inside one (after MAIL FROM the upstream has the rewritten sender).
  enum class Transaction { none, started };
  struct Client {
    net::Conn conn;
    std::uint64_t id;
    std::string ip, buf;
    std::unique_ptr<Upstream> up;  ///< connected and authenticated at the first MAIL FROM
    std::optional<MailProfile> profile;
    std::string msisdn;
    Transaction transaction = Transaction::none;
    bool closing = false;  ///< QUIT, or the connection broke
    std::string replies;   ///< answers held back while more pipelined commands wait (RFC 2920 3.1)
    Client(tcp::socket sock, std::uint64_t id_, std::string ip_)
        : conn(std::move(sock)), id(id_), ip(std::move(ip_)) {}
  };

  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto client_ip = canonical(peer.address());
    sock.set_option(tcp::no_delay(true), ec);
    Client c(std::move(sock), id, client_ip.to_string());
    const auto t = std::chrono::seconds(300);  // RFC 5321 4.5.3.2.7: server timeout 5 minutes
    if (auto refused = admission(client_ip, id)) {
      auto reply = text.refusal(*refused, {});
      co_await write_all(c.conn, reply, t);
      co_return;
    }
    // Closed when the address's session ends: the upstream login is never reused for its next holder.
    auto tracked = live.track(c.ip, [&c] {
      c.closing = true;
      c.conn.close();
    });
    if (!co_await write_all(c.conn, "220 mobix ESMTP submission proxy ready\r\n", t)) co_return;
    while (!c.closing) {
      auto line = co_await read_line(c.conn, c.buf, smtp::kMaxCommandLine, t);
      if (!line) {
        if (c.buf.size() >= smtp::kMaxCommandLine) {
          protocol_error("line_too_long", c.id, c.ip);
          co_await answer(c, "500 5.5.2 line too long\r\n");
        }
        co_return;
      }
      auto reply = co_await handle(c, *line);
      c.replies += reply;
      // RFC 2920 3.1: the answers to a group of commands may go in one write, sent before the proxy
      // waits for the handset again.
      if (c.replies.empty() || (!c.closing && c.buf.find("\r\n") != std::string::npos)) continue;
      bool sent = co_await answer(c, "");
      if (!sent) co_return;
    }
  }

  /// Writes the answers held back and `text`.
  asio::awaitable<bool> answer(Client& c, std::string text) {
    std::string all = std::exchange(c.replies, {}) + text;
    bool sent = co_await write_all(c.conn, all, std::chrono::seconds(300));
    co_return sent;
  }

  // One command; the reply for the handset (empty: already answered, or nothing to say).
  asio::awaitable<std::string> handle(Client& c, const std::string& line) {
    auto cmd = smtp::parse_command(line);
    if (!cmd) {
      protocol_error("bad_command", c.id, c.ip);
      co_return "500 5.5.2 syntax error\r\n";
    }
    const auto& verb = cmd->verb;
    if (verb == "EHLO")
      co_return fmt::format(
          "250-mobix\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n"
          "250 AUTH PLAIN LOGIN\r\n",
          cfg.max_message_size);
    if (verb == "HELO") co_return "250 mobix\r\n";
    if (verb == "AUTH") {
      auto reply = co_await on_auth(c, cmd->argument);
      co_return reply;
    }
    if (verb == "MAIL") {
      auto reply = co_await on_mail(c, cmd->argument);
      co_return reply;
    }
    if (verb == "RCPT") {
      auto reply = co_await on_rcpt(c, line);
      co_return reply;
    }
    if (verb == "DATA") {
      auto reply = co_await on_data(c);
      co_return reply;
    }
    if (verb == "RSET") {
      c.transaction = Transaction::none;
      const std::string rset = "RSET\r\n";
      co_await upstream_command(c, rset);
      co_return "250 2.0.0 OK\r\n";
    }
    if (verb == "NOOP") co_return "250 2.0.0 OK\r\n";
    if (verb == "QUIT") {
      const std::string quit = "QUIT\r\n";
      co_await upstream_command(c, quit);
      c.closing = true;
      co_return "221 2.0.0 bye\r\n";
    }
    if (verb == "VRFY") co_return "252 2.5.2 cannot verify\r\n";
    co_return "502 5.5.1 command not implemented\r\n";
  }

  // A command to the upstream (if any) whose reply does not matter to the handset.
  asio::awaitable<void> upstream_command(Client& c, std::string command) {
    if (!c.up) co_return;
    const auto up_t = std::chrono::seconds(cfg.upstream_timeout);
    bool sent = co_await write_all(c.up->conn, command, up_t);
    if (sent) co_await read_reply(c.up->conn, c.up->buf, up_t);
  }

  // The handset's default credentials are accepted and ignored: the network already knows the
  // subscriber (seed 000 step 202). LOGIN/PLAIN without an initial response get their prompts.
  asio::awaitable<std::string> on_auth(Client& c, std::string argument) {
    const auto t = std::chrono::seconds(300);
    auto mech = argument.substr(0, argument.find(' '));
    for (auto& ch : mech) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (mech != "LOGIN" && mech != "PLAIN") co_return "504 5.5.4 unsupported mechanism\r\n";
    bool initial_response = argument.find(' ') != std::string::npos;
    std::vector<std::string> prompts;  // RFC 4954 4: "334" challenges before each client line
    if (mech == "PLAIN" && !initial_response) prompts = {"334 \r\n"};
    if (mech == "LOGIN") {
      if (!initial_response) prompts.push_back("334 VXNlcm5hbWU6\r\n");  // "Username:"
      prompts.push_back("334 UGFzc3dvcmQ6\r\n");                         // "Password:"
    }
    for (const auto& prompt : prompts) {
      std::optional<std::string> response;
      bool sent = co_await answer(c, prompt);
      if (sent) response = co_await read_line(c.conn, c.buf, smtp::kMaxCommandLine, t);
      if (!response) {
        c.closing = true;
        co_return "";
      }
    }
    co_return "235 2.7.0 accepted: the mobile network identifies you\r\n";
  }

  // Steps 202-205 at MAIL FROM: IP -> session -> subscriber -> account (never an open relay), the
  // upstream opened and authenticated once per connection, the sender replaced (step 204).
  asio::awaitable<std::string> on_mail(Client& c, std::string argument) {
    auto mf = smtp::parse_mail_from(argument);
    if (!mf) co_return "501 5.5.4 syntax: MAIL FROM:<address>\r\n";
    if (c.transaction == Transaction::started) co_return "503 5.5.1 nested MAIL command\r\n";
    auto found = co_await identify_subscriber(c.ip, c.id, smtp_profile);
    if (auto* r = std::get_if<Refusal>(&found)) co_return refuse(*r, c.id, "at MAIL FROM");
    auto& me = std::get<mail::Identified>(found);
    c.profile = me.profile;
    c.msisdn = me.who.session.msisdn;
    if (!c.up) {
      c.up = std::make_unique<Upstream>(io);
      auto refused = co_await open_upstream(*c.up, *c.profile, me.who.session, c.id);
      if (refused) {
        c.up.reset();
        co_return refuse(*refused, c.id, "opening the submission server");
      }
    }
    const auto up_t = std::chrono::seconds(cfg.upstream_timeout);
    Group group = c.up->pipelining ? take_group(c.buf) : Group{};
    std::string batch = "MAIL FROM:<" + c.profile->address + ">" + mf->parameters + "\r\n";
    for (const auto& rcpt : group.rcpts) batch += rcpt + "\r\n";
    if (group.data) batch += "DATA\r\n";
    pipelined.inc(group.rcpts.size() + (group.data ? 1 : 0));
    bool sent = co_await write_all(c.up->conn, batch, up_t);
    std::optional<smtp::Reply> r;
    if (sent) r = co_await read_reply(c.up->conn, c.up->buf, up_t, &c.up->malformed);
    if (!r) {
      upstream_gone(c, "at MAIL FROM");
      co_return "451 4.4.1 the mail server did not answer; try again later\r\n" + unanswered(group);
    }
    if (r->positive()) c.transaction = Transaction::started;
    std::string replies = r->text;
    for (std::size_t i = 0; i < group.rcpts.size(); ++i) {
      auto rcpt = co_await read_reply(c.up->conn, c.up->buf, up_t, &c.up->malformed);
      if (!rcpt) {
        upstream_gone(c, "in a pipelined group");
        c.transaction = Transaction::none;
        group.rcpts.erase(group.rcpts.begin(), group.rcpts.begin() + static_cast<std::ptrdiff_t>(i));
        co_return replies + unanswered(group);
      }
      replies += rcpt->text;
    }
    if (!group.data) co_return replies;
    auto go = co_await read_reply(c.up->conn, c.up->buf, up_t, &c.up->malformed);
    if (go && go->code == 354) {
      auto reply = co_await relay_body(c, replies + go->text);
      co_return reply;
    }
    if (!go) upstream_gone(c, "in a pipelined group");
    co_return replies + (go ? go->text : "451 4.4.1 the mail server did not answer\r\n");
  }

  /// The upstream stopped answering a transaction: its connection is dropped (the next MAIL opens a
  /// new one), counted and logged; the caller answers the handset.
  void upstream_gone(Client& c, const char* where) {
    c.up.reset();
    failure("upstream_lost").inc();
    spdlog::warn("smtp #{}: the mail server of msisdn {} went away {}", c.id, c.msisdn, where);
  }

  /// RFC 2920: the RCPT commands, and a DATA after them, that the handset sent right behind MAIL.
  struct Group {
    std::vector<std::string> rcpts;
    bool data = false;
  };
  static Group take_group(std::string& buf) {
    Group group;
    std::size_t pos = 0;
    for (std::size_t eol;
         (eol = buf.find("\r\n", pos)) != std::string::npos && eol + 2 - pos <= smtp::kMaxCommandLine;) {
      auto line = buf.substr(pos, eol - pos);
      auto cmd = smtp::parse_command(line);
      if (!cmd || (cmd->verb != "RCPT" && cmd->verb != "DATA")) break;
      pos = eol + 2;
      if (cmd->verb == "DATA") {
        group.data = true;
        break;
      }
      group.rcpts.push_back(std::move(line));
    }
    buf.erase(0, pos);
    return group;
  }
  /// The answers for a group's commands that the upstream never answered (it went away).
  static std::string unanswered(const Group& group) {
    std::string replies;
    for (std::size_t i = 0; i < group.rcpts.size(); ++i)
      replies += "451 4.4.1 the mail server did not answer\r\n";
    if (group.data) replies += "503 5.5.1 need MAIL and RCPT first\r\n";
    return replies;
  }

  asio::awaitable<std::string> on_rcpt(Client& c, std::string line) {
    if (c.transaction != Transaction::started || !c.up) co_return "503 5.5.1 need MAIL first\r\n";
    const std::string rcpt = line + "\r\n";
    auto r = co_await command(*c.up, rcpt, std::chrono::seconds(cfg.upstream_timeout));
    co_return r ? r->text : "451 4.4.1 the mail server did not answer\r\n";
  }

  /// Where DATA stands while it streams to the upstream (issue 12 item 4).
  enum class DataState { forwarding, too_big, header_too_big, upstream_lost };
  static constexpr std::size_t kDataFlush = 64 * 1024;  ///< bytes held before a write upstream
  static constexpr std::size_t kDataRead = 64 * 1024;   ///< bytes asked of the handset per read
  static constexpr std::size_t kMaxDataLine = smtp::kMaxTextLine * 64;  ///< longer: the connection ends

  // DATA (seed 000 steps 204-207): the (dot-stuffed) message streams to the upstream as it arrives,
  // its originator fields rewritten on the way; only the header section and kDataFlush bytes are
  // held per connection, whatever the message size limit. The server's answer goes back to the
  // handset. A message that must not be delivered (too big) aborts the upstream transaction by
  // closing that connection before the final "." (RFC 5321 4.1.1.4: no delivery without it).
  asio::awaitable<std::string> on_data(Client& c) {
    if (c.transaction != Transaction::started || !c.up) co_return "503 5.5.1 need MAIL and RCPT first\r\n";
    const std::string data_cmd = "DATA\r\n";
    auto go = co_await command(*c.up, data_cmd, std::chrono::seconds(cfg.upstream_timeout));
    if (!go || go->code != 354) {
      if (!go) c.up.reset();
      co_return go ? go->text : "451 4.4.1 the mail server did not answer\r\n";
    }
    auto reply = co_await relay_body(c, go->text);
    co_return reply;
  }

  /// The message after the upstream's 354: `go` (the 354, with any answers before it) goes to the
  /// handset, then its DATA streams to the upstream; the reply for the handset.
  asio::awaitable<std::string> relay_body(Client& c, std::string go) {
    const auto t = std::chrono::seconds(300), up_t = std::chrono::seconds(cfg.upstream_timeout);
    bool told = co_await answer(c, go);
    if (!told) {
      c.closing = true;
      co_return "";
    }
    smtp::DataRewriter rewriter(c.profile->address, c.profile->full_name);
    std::string out;
    std::size_t received = 0;
    auto state = DataState::forwarding;
    for (;;) {
      auto fed = rewriter.feed(c.buf, out, state == DataState::forwarding);
      c.buf.erase(0, fed.consumed);
      received += fed.octets;
      if (state != DataState::forwarding) {
        // read to the end, send nothing more
      } else if (received > cfg.max_message_size) {
        state = DataState::too_big;
      } else if (fed.status == smtp::DataRewriter::Status::header_too_big) {
        state = DataState::header_too_big;
      } else if (out.size() >= kDataFlush) {
        bool sent = co_await write_all(c.up->conn, std::exchange(out, {}), up_t);
        if (!sent) state = DataState::upstream_lost;
      }
      if (fed.ended) break;
      // A line longer than this, or the handset went away or stalled: the upstream never sees the
      // final ".".
      bool more = c.buf.size() < kMaxDataLine;
      if (more) more = co_await net::read_more(c.conn, c.buf, kDataRead, t);
      if (!more) {
        c.closing = true;
        co_return "";
      }
    }
    c.transaction = Transaction::none;
    if (state != DataState::forwarding) co_return data_refused(c, state);
    rewriter.finish(out);
    out += ".\r\n";
    // RFC 5321 4.5.3.2.6: the answer to the final "." may take the server up to 10 minutes.
    auto fin = co_await command(*c.up, out, std::max(up_t, std::chrono::seconds(600)));
    if (!fin) {
      c.up.reset();
      co_return "451 4.4.1 the mail server did not confirm the message\r\n";
    }
    if (fin->positive()) {
      messages.inc();
      spdlog::info("smtp #{}: msisdn {} sent a message as {} via {}", c.id, c.msisdn, c.profile->address,
                   c.profile->smtp->str());
    }
    co_return fin->text;
  }

  /// The upstream has part of a message it must not deliver: that connection is dropped (the next
  /// MAIL opens a new one), and the handset hears why.
  std::string data_refused(Client& c, DataState state) {
    c.up.reset();
    switch (state) {
      case DataState::too_big:
        failure("message_too_big").inc();
        spdlog::info("smtp #{}: msisdn {} sent a message over {} octets: refused", c.id, c.msisdn,
                     cfg.max_message_size);
        return fmt::format("552 5.3.4 message exceeds the size limit of {} octets\r\n", cfg.max_message_size);
      case DataState::header_too_big:
        failure("header_too_big").inc();
        spdlog::info("smtp #{}: msisdn {} sent a header section over {} octets: refused", c.id, c.msisdn,
                     smtp::DataRewriter::kMaxHeaderSection);
        return "552 5.3.4 the message's header section is too large\r\n";
      case DataState::upstream_lost:
      case DataState::forwarding:
        break;
    }
    failure("upstream_lost").inc();
    spdlog::warn("smtp #{}: the mail server stopped taking msisdn {}'s message", c.id, c.msisdn);
    return "451 4.4.1 the mail server did not take the message; try again later\r\n";
  }
};

}  // namespace

std::unique_ptr<TcpService> make_smtp_proxy(const MailShared& shared) {
  return mail::serve_proxy<SmtpProxy>(shared, "smtp", *shared.cfg.smtp_listen);
}

}  // namespace mobix
