#include "relay/signal_sender.hpp"

#include <deque>
#include <optional>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/http_client.hpp"
#include "net/tls_context.hpp"
#include "relay/mail_signal.hpp"
#include "smpp/esme.hpp"

namespace mobix {

namespace asio = boost::asio;

const char* to_string(SignalOutcome o) {
  switch (o) {
    case SignalOutcome::sent:
      return "sent";
    case SignalOutcome::failed:
      return "failed";
    case SignalOutcome::abandoned:
      return "abandoned";
  }
  return "?";
}

namespace {

// A signal waiting for the relay's SMPP or SMTP session.
struct OutgoingSignal {
  std::vector<std::uint8_t> sealed;
  std::uint64_t id = 0;
  std::function<bool()> wanted;
  SignalOutcome outcome = SignalOutcome::failed;
  asio::steady_timer done;  ///< cancelled when sent (or given up)
  explicit OutgoingSignal(const asio::any_io_executor& ex)
      : done(ex, asio::steady_timer::time_point::max()) {}
};

// cfg.webhook_url, split once: https://host:port/path
struct WebhookTarget {
  std::string hostport, path = "/";
  std::optional<Endpoint> endpoint;
  explicit WebhookTarget(const std::string& url) {
    if (url.size() <= 8) return;
    auto rest = url.substr(8);
    auto slash = rest.find('/');
    hostport = rest.substr(0, slash);
    if (slash != std::string::npos) path = rest.substr(slash);
    endpoint = parse_endpoint(hostport, true);
  }
};

}  // namespace

struct SignalSender::Impl {
  asio::io_context& io;
  const RelayConfig& cfg;
  std::shared_ptr<asio::ssl::context> webhook_tls;
  WebhookTarget webhook;
  /// Idle keep-alive connections to the gateway's webhook (saves a TCP and a TLS handshake).
  std::vector<std::unique_ptr<net::HttpsConnection>> webhook_idle;
  std::deque<std::shared_ptr<OutgoingSignal>> queue;
  asio::steady_timer wake{io, asio::steady_timer::time_point::max()};
  bool stopping = false;

  Impl(asio::io_context& i, const RelayConfig& c)
      : io(i), cfg(c), webhook_tls(net::make_client_tls_context(c.webhook_ca_file)), webhook(c.webhook_url) {}

  // POST /v1/signal to the gateway's webhook (certificate verified), on a kept-alive connection
  // when one is idle; a kept connection the gateway closed meanwhile: once more on a new one.
  asio::awaitable<bool> post_webhook(std::vector<std::uint8_t> sealed, std::uint64_t id) {
    if (!webhook.endpoint) {
      spdlog::error("relay: webhook_url {} has no host:port", cfg.webhook_url);
      co_return false;
    }
    const auto t = std::chrono::seconds(5);
    const std::string body(sealed.begin(), sealed.end()), content_type = "application/octet-stream";
    net::HttpsConnection::Result res;
    std::unique_ptr<net::HttpsConnection> conn;
    while (!webhook_idle.empty() && res.status == 0) {
      conn = std::move(webhook_idle.back());
      webhook_idle.pop_back();
      res = co_await conn->post(webhook.path, webhook.hostport, content_type, body, t);
    }
    if (res.status == 0) {
      conn = std::make_unique<net::HttpsConnection>(io.get_executor());
      std::string why;
      if (!co_await conn->connect(*webhook.endpoint, *webhook_tls, t, why)) {
        spdlog::warn("relay #{}: webhook {}: {}", id, cfg.webhook_url, why);
        co_return false;
      }
      res = co_await conn->post(webhook.path, webhook.hostport, content_type, body, t);
    }
    if (res.keep_alive && webhook_idle.size() < 8) webhook_idle.push_back(std::move(conn));
    if (res.status != 202) {
      spdlog::warn("relay #{}: webhook {} refused the signal: {}", id, cfg.webhook_url,
                   res.status ? "HTTP " + std::to_string(res.status) : "no answer (" + res.error + ")");
      co_return false;
    }
    spdlog::info("relay #{}: signal posted to the gateway's webhook ({} octets)", id, sealed.size());
    co_return true;
  }

  // One signal as a binary short message over the kept transmitter bind (bound first when needed).
  asio::awaitable<smpp::SmppResult> send_sms(const OutgoingSignal& item, std::unique_ptr<smpp::Esme>& esme) {
    smpp::ShortMessage m;
    m.source_addr = "mobixrelay";
    m.dest_addr_ton = 1;
    m.dest_addr_npi = 1;
    m.destination_addr = cfg.gateway_msisdn;
    m.data_coding = 0x04;
    m.short_message = item.sealed;
    if (!esme) {
      smpp::EsmeConfig ec{
          cfg.smpp.smsc, cfg.smpp.system_id, cfg.smpp.password, "", smpp::BindMode::transmitter, ""};
      esme = std::make_unique<smpp::Esme>(io.get_executor(), ec);
      auto bound = co_await esme->bind();
      if (!bound) co_return bound;
    }
    auto sent = co_await esme->submit(m);
    if (sent)
      spdlog::info("relay #{}: signal sent by SMS to {} ({} octets, message {})", item.id, cfg.gateway_msisdn,
                   item.sealed.size(), sent.message_id);
    co_return sent;
  }

  // One queued signal over the SMPP bind or the SMTP session; a failed session is dropped and
  // re-opened once.
  asio::awaitable<void> send_queued(OutgoingSignal& item, std::unique_ptr<smpp::Esme>& esme,
                                    std::optional<MailSignalSender>& mail, const std::string& via) {
    for (int attempt = 0; attempt < 2 && item.outcome != SignalOutcome::sent; ++attempt) {
      std::string error;
      if (mail) {
        auto mail_error = co_await mail->send(item.sealed);
        error = mail_error;
        if (error.empty())
          spdlog::info("relay #{}: signal sent by e-mail to {} through {} ({} octets)", item.id, cfg.email.to,
                       via, item.sealed.size());
      } else {
        auto sent = co_await send_sms(item, esme);
        error = sent.error;
        if (!sent) esme.reset();  // the SMPP session is gone or refused: bind again
      }
      if (error.empty())
        item.outcome = SignalOutcome::sent;
      else
        spdlog::warn("relay #{}: cannot send the signal through {}: {}", item.id, via, error);
    }
  }

  // Sends queued signals in order over the one session the channel keeps (SMSCs limit binds; one
  // per signal would also cost round trips per tunnel).
  asio::awaitable<void> run_queue() {
    std::unique_ptr<smpp::Esme> esme;
    std::optional<MailSignalSender> mail;
    if (cfg.channel == SignalChannel::email) mail.emplace(io.get_executor(), cfg.email);
    const std::string via = mail ? cfg.email.smtp.str() : cfg.smpp.smsc.str();
    while (!stopping) {
      if (queue.empty()) {
        co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto item = queue.front();
      queue.pop_front();
      if (!item->wanted()) {
        item->outcome = SignalOutcome::abandoned;  // every client waiting for it has gone
        spdlog::info("relay #{}: signal not sent: nobody waits for it any more", item->id);
      } else {
        co_await send_queued(*item, esme, mail, via);
      }
      item->done.cancel();
    }
    if (esme) esme->close();
    if (mail) mail->close();
  }
};

SignalSender::SignalSender(asio::io_context& io, const RelayConfig& cfg)
    : impl_(std::make_shared<Impl>(io, cfg)) {}
SignalSender::~SignalSender() = default;

void SignalSender::start() {
  if (impl_->cfg.channel != SignalChannel::webhook)
    asio::co_spawn(
        impl_->io, [impl = impl_] { return impl->run_queue(); }, asio::detached);
}

void SignalSender::stop() {
  impl_->stopping = true;
  impl_->wake.cancel();
  for (auto& item : impl_->queue) item->done.cancel();
}

asio::awaitable<SignalOutcome> SignalSender::send(std::vector<std::uint8_t> sealed, std::uint64_t id,
                                                  std::function<bool()> wanted) {
  auto impl = impl_;
  if (impl->cfg.channel == SignalChannel::webhook) {
    if (!wanted()) co_return SignalOutcome::abandoned;
    bool ok = co_await impl->post_webhook(std::move(sealed), id);
    co_return ok ? SignalOutcome::sent : SignalOutcome::failed;
  }
  auto item = std::make_shared<OutgoingSignal>(impl->io.get_executor());
  item->sealed = std::move(sealed);
  item->id = id;
  item->wanted = std::move(wanted);
  impl->queue.push_back(item);
  impl->wake.cancel_one();
  co_await item->done.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return item->outcome;
}

}  // namespace mobix
