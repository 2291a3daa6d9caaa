#include "relay/mail_signal.hpp"

#include <chrono>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/algorithm/hex.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/signal/signal.hpp"
#include "codec/signal/signal_mail.hpp"
#include "codec/smtp/smtp.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "core/text.hpp"
#include "net/conn.hpp"
#include "net/failure_limiter.hpp"
#include "net/smtp_client.hpp"

namespace mobix {

namespace asio = boost::asio;
using net::Conn;

namespace {

const auto kTimeout = std::chrono::seconds(10);

std::string domain_of(const std::string& address) {
  auto at = address.rfind('@');
  return at == std::string::npos ? address : address.substr(at + 1);
}

}  // namespace

// ---- relay side ---------------------------------------------------------------------------

struct MailSignalSender::Impl {
  asio::any_io_executor ex;
  const RelayEmailConfig& cfg;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<Conn> conn;
  std::string buf;

  Impl(const asio::any_io_executor& e, const RelayEmailConfig& c)
      : ex(e), cfg(c), tls(c.tls == SmtpTls::none ? nullptr : net::make_client_tls_context(c.ca_file)) {}

  std::string error;  ///< what the last step failed on (empty: it did not)

  // One command, one reply whose code must be in [want, want + 99]; nullopt (and `error`) otherwise.
  asio::awaitable<std::optional<smtp::Reply>> command(const std::string& line, int want, const char* step) {
    if (!line.empty()) {
      bool written = co_await net::write_all(*conn, line, kTimeout);
      if (!written) {
        error = fmt::format("{}: the connection broke", step);
        co_return std::nullopt;
      }
    }
    auto reply = co_await net::read_reply(*conn, buf, kTimeout);
    if (!reply) {
      error = fmt::format("{}: no answer", step);
    } else if (reply->code < want || reply->code > want + 99) {
      error = fmt::format("{}: {}", step, reply->text.substr(0, reply->text.find("\r\n")));
      reply.reset();
    }
    co_return reply;
  }

  // Connects, TLS (implicit or STARTTLS, required), EHLO and AUTH; false with `error` set.
  asio::awaitable<bool> open() {
    conn = std::make_unique<Conn>(ex);
    buf.clear();
    if (auto ec = co_await conn->connect(cfg.smtp, kTimeout)) {
      error = fmt::format("connect {}: {}", cfg.smtp.str(), ec.message());
      co_return false;
    }
    std::string why;
    // No co_await inside && or ?: here: GCC 12 miscompiles co_await in short-circuit operands.
    if (cfg.tls == SmtpTls::tls) {
      auto failed = co_await conn->start_tls(*tls, cfg.smtp.host, kTimeout, why);
      if (failed) {
        error = "TLS: " + why;
        co_return false;
      }
    }
    const std::string none;
    auto reply1 = co_await command(none, 220, "greeting");
    if (!reply1) co_return false;
    const std::string ehlo = "EHLO " + domain_of(cfg.from) + "\r\n";
    auto caps = co_await command(ehlo, 250, "EHLO");
    if (!caps) co_return false;
    if (cfg.tls == SmtpTls::starttls) {
      // Required, not opportunistic: a server that does not offer it is refused (RFC 3207 4.1).
      if (!smtp::ehlo_keyword(*caps, "STARTTLS")) {
        error = "the server offers no STARTTLS";
        co_return false;
      }
      const std::string starttls = "STARTTLS\r\n";
      auto reply2 = co_await command(starttls, 220, "STARTTLS");
      if (!reply2) co_return false;
      if (!buf.empty()) {
        error = "STARTTLS: data after the reply (RFC 3207 5)";
        co_return false;
      }
      auto failed = co_await conn->start_tls(*tls, cfg.smtp.host, kTimeout, why);
      if (failed) {
        error = "TLS: " + why;
        co_return false;
      }
      auto reply3 = co_await command(ehlo, 250, "EHLO after STARTTLS");
      if (!reply3) co_return false;
    }
    if (!cfg.username.empty()) {
      std::string plain = std::string(1, '\0') + cfg.username + std::string(1, '\0') + cfg.password;
      const std::string auth = "AUTH PLAIN " + smtp::base64(plain) + "\r\n";
      auto reply4 = co_await command(auth, 235, "AUTH");
      if (!reply4) co_return false;
    }
    co_return true;
  }

  // One message; false with `error` set.
  asio::awaitable<bool> send(const std::vector<std::uint8_t>& sealed) {
    if (!conn) {
      bool opened = co_await open();
      if (!opened) co_return false;
    }
    std::array<std::uint8_t, 8> rnd{};
    // A Message-ID needs uniqueness, not secrecy: a failed RAND_bytes falls back to the clock.
    if (RAND_bytes(rnd.data(), static_cast<int>(rnd.size())) != 1) {
      auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      std::memcpy(rnd.data(), &t, rnd.size());
    }
    std::string id;
    boost::algorithm::hex_lower(rnd.begin(), rnd.end(), std::back_inserter(id));
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char date[64];
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    auto message = signal::compose_mail(cfg.from, cfg.to, sealed, date, id + "@" + domain_of(cfg.from));
    const std::string mail_from = "MAIL FROM:<" + cfg.from + ">\r\n";
    const std::string rcpt_to = "RCPT TO:<" + cfg.to + ">\r\n";
    const std::string data = "DATA\r\n";
    const std::string body = smtp::dot_stuff(smtp::normalize_line_endings(message)) + ".\r\n";
    auto reply5 = co_await command(mail_from, 250, "MAIL FROM");
    if (!reply5) co_return false;
    auto reply6 = co_await command(rcpt_to, 250, "RCPT TO");
    if (!reply6) co_return false;
    auto reply7 = co_await command(data, 354, "DATA");
    if (!reply7) co_return false;
    auto done = co_await command(body, 250, "end of data");
    co_return done.has_value();
  }
};

MailSignalSender::MailSignalSender(const asio::any_io_executor& ex, const RelayEmailConfig& cfg)
    : impl_(std::make_unique<Impl>(ex, cfg)) {}
MailSignalSender::~MailSignalSender() = default;

asio::awaitable<std::string> MailSignalSender::send(std::vector<std::uint8_t> sealed) {
  impl_->error.clear();
  bool sent = co_await impl_->send(sealed);
  if (sent) co_return std::string();
  impl_->conn.reset();  // a session in an unknown state is not reused
  co_return impl_->error;
}

void MailSignalSender::close() {
  if (impl_->conn) impl_->conn->close();
  impl_->conn.reset();
}

// ---- gateway side -------------------------------------------------------------------------

namespace {
Counter& mail_counter(const char* result) {
  return metrics().counter("mobix_gateway_signal_mails_total",
                           "Messages at the gateway's SMTP receiver, by result",
                           std::string("result=\"") + result + "\"");
}
constexpr std::size_t kMaxMessage = 64 * 1024;  // a signal mail is about 600 octets
}  // namespace

struct MailSignalReceiver::Impl : std::enable_shared_from_this<MailSignalReceiver::Impl> {
  asio::io_context& io;
  const GatewayEmailConfig& cfg;
  Admit admit;
  const std::string recipient = ascii_lower(cfg.address);  // RCPT TO compares case-insensitively
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<TcpService> service;
  // Refused messages per client address per minute. The client is usually the operator's MTA:
  // generous enough not to starve the relay's signals behind a stranger's junk.
  net::FailureLimiter failures{60};

  Impl(asio::io_context& i, const GatewayEmailConfig& c, Admit a) : io(i), cfg(c), admit(std::move(a)) {
    if (!c.tls_cert_file.empty()) tls = net::make_server_tls_context(c.tls_cert_file, c.tls_key_file);
  }

  // One reply line; `text` is a named string (no temporaries in co_await operands: GCC 12).
  static asio::awaitable<bool> say(Conn& c, const std::string& text) {
    std::string line = text + "\r\n";
    co_return co_await net::write_all(c, line, kTimeout);
  }

  // Reads the message after DATA up to the lone ".", undoing dot-stuffing (RFC 5321 4.5.2).
  // nullopt when the connection broke; `too_big` when it passed kMaxMessage (read to the end anyway).
  static asio::awaitable<std::optional<std::string>> read_data(Conn& c, std::string& buf, bool& too_big) {
    std::string message;
    too_big = false;
    for (;;) {
      auto line = co_await net::read_line(c, buf, smtp::kMaxTextLine, kTimeout);
      if (!line) co_return std::nullopt;
      if (*line == ".") co_return message;
      std::string_view l = *line;
      if (!l.empty() && l[0] == '.') l.remove_prefix(1);
      if (message.size() + l.size() + 2 > kMaxMessage) {
        too_big = true;
        continue;
      }
      message.append(l).append("\r\n");
    }
  }

  asio::awaitable<void> session(asio::ip::tcp::socket sock, std::uint64_t id) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto ip = canonical(peer.address()).to_string();
    Conn c(std::move(sock));
    std::string reply;
    if (failures.blocked(ip)) {
      mail_counter("rate_limited").inc();
      reply = "421 4.7.0 too many refused messages, try later";
      co_await say(c, reply);
      co_return;
    }
    const std::string host = domain_of(cfg.address);
    reply = "220 " + host + " mobix gateway ESMTP";
    if (!co_await say(c, reply)) co_return;
    std::string buf;
    bool greeted = false, has_sender = false, has_recipient = false;
    for (int commands = 0; commands < 10000; ++commands) {
      auto line =
          co_await net::read_line(c, buf, smtp::kMaxCommandLine, std::chrono::seconds(cfg.command_timeout));
      if (!line) co_return;
      auto cmd = smtp::parse_command(*line);
      if (!cmd) {
        reply = "500 5.5.2 syntax error";
      } else if (cmd->verb == "EHLO" || cmd->verb == "HELO") {
        greeted = true;
        has_sender = has_recipient = false;
        reply = cmd->verb == "HELO"
                    ? "250 " + host
                    : "250-" + host + "\r\n250-8BITMIME\r\n250-SIZE " + std::to_string(kMaxMessage) +
                          (tls && !c.secure() ? "\r\n250-STARTTLS" : "") + "\r\n250 ENHANCEDSTATUSCODES";
      } else if (cmd->verb == "STARTTLS") {
        if (!tls || c.secure()) {
          reply = "502 5.5.1 STARTTLS not available";
        } else {
          reply = "220 2.0.0 ready to start TLS";
          if (!co_await say(c, reply)) co_return;
          if (!buf.empty()) co_return;  // commands sent ahead of the handshake: injection (RFC 3207 5)
          if (co_await c.accept_tls(*tls, kTimeout)) co_return;
          greeted = has_sender = has_recipient = false;
          continue;
        }
      } else if (cmd->verb == "MAIL") {
        if (!greeted) {
          reply = "503 5.5.1 EHLO first";
        } else if (!smtp::parse_mail_from(cmd->argument)) {
          reply = "501 5.5.4 MAIL FROM:<address>";
        } else {
          has_sender = true;
          has_recipient = false;
          reply = "250 2.1.0 ok";
        }
      } else if (cmd->verb == "RCPT") {
        auto lt = cmd->argument.find('<'), gt = cmd->argument.find('>');
        auto to = lt != std::string::npos && gt != std::string::npos && gt > lt
                      ? ascii_lower(cmd->argument.substr(lt + 1, gt - lt - 1))
                      : std::string();
        if (!has_sender) {
          reply = "503 5.5.1 MAIL first";
        } else if (to != recipient) {
          reply = "550 5.1.1 no such mailbox here";
        } else {
          has_recipient = true;
          reply = "250 2.1.5 ok";
        }
      } else if (cmd->verb == "DATA") {
        if (!has_recipient) {
          reply = "554 5.5.1 no valid recipient";
        } else {
          reply = "354 end data with <CR><LF>.<CR><LF>";
          if (!co_await say(c, reply)) co_return;
          bool too_big = false;
          auto message = co_await read_data(c, buf, too_big);
          if (!message) co_return;
          has_sender = has_recipient = false;
          auto sealed = too_big ? std::nullopt : signal::extract_from_mail(*message, signal::kMaxSealedSize);
          if (too_big) {
            mail_counter("too_big").inc();
            reply = "552 5.3.4 message too big for a signal";
          } else if (!sealed) {
            mail_counter("not_a_signal").inc();
            failures.record(ip);
            reply = "550 5.6.0 not an access request signal";
          } else if (!admit(*sealed, ip)) {
            mail_counter("refused").inc();
            failures.record(ip);
            reply = "550 5.7.1 signal refused";
          } else {
            mail_counter("accepted").inc();
            reply = "250 2.0.0 signal accepted";
          }
          spdlog::debug("gateway mail #{} from {}: {}", id, ip, reply);
        }
      } else if (cmd->verb == "RSET") {
        has_sender = has_recipient = false;
        reply = "250 2.0.0 ok";
      } else if (cmd->verb == "NOOP") {
        reply = "250 2.0.0 ok";
      } else if (cmd->verb == "QUIT") {
        reply = "221 2.0.0 bye";
        co_await say(c, reply);
        co_return;
      } else {
        reply = "502 5.5.1 command not implemented";
      }
      if (!co_await say(c, reply)) co_return;
    }
  }
};

MailSignalReceiver::MailSignalReceiver(asio::io_context& io, const GatewayEmailConfig& cfg, Admit admit)
    : impl_(std::make_shared<Impl>(io, cfg, std::move(admit))) {
  impl_->service = std::make_unique<TcpService>(
      io, "gateway-email", cfg.listen,
      [impl = impl_](asio::ip::tcp::socket s, std::uint64_t id) { return impl->session(std::move(s), id); });
}
MailSignalReceiver::~MailSignalReceiver() = default;
void MailSignalReceiver::start() {
  impl_->service->start();
}
void MailSignalReceiver::stop() {
  impl_->service->stop();
}
bool MailSignalReceiver::drained() const {
  return impl_->service->drained();
}
Endpoint MailSignalReceiver::local_endpoint() const {
  return impl_->service->local_endpoint();
}

}  // namespace mobix
