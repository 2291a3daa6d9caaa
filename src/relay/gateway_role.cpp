#include <atomic>
#include <ctime>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/algorithm/hex.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "access/session_table.hpp"
#include "codec/signal/signal.hpp"
#include "core/metrics.hpp"
#include "mail/conn.hpp"
#include "mail/relay.hpp"
#include "relay/tunnel_roles.hpp"
#include "smpp/esme.hpp"

namespace mobix {

namespace asio = boost::asio;
using mail::Conn;

namespace {
Counter& signals(const char* result) {
  return metrics().counter("mobix_gateway_signals_total", "Access request signals at the gateway, by result",
                           std::string("result=\"") + result + "\"");
}
}  // namespace

struct GatewayRole::Impl : std::enable_shared_from_this<GatewayRole::Impl> {
  asio::io_context& io;
  const GatewayConfig& cfg;
  SessionTable& sessions;
  signal::Keyring keys;
  signal::ReplayGuard replay;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<smpp::Esme> esme;
  bool stopping = false;
  std::atomic<int> active{0};

  Impl(asio::io_context& i, const GatewayConfig& c, SessionTable& s)
      : io(i),
        cfg(c),
        sessions(s),
        replay(c.max_signal_lifetime),
        tls(mail::make_client_tls_context(c.relay_ca_file)) {
    for (const auto& k : c.signal_keys) {
      std::string raw;
      boost::algorithm::unhex(k.key_hex, std::back_inserter(raw));
      signal::Key key;
      std::copy(raw.begin(), raw.end(), key.begin());
      keys[k.id] = key;
    }
  }

  // Bound as an SMPP receiver; reconnects with backoff while running.
  asio::awaitable<void> receive_loop() {
    auto self = shared_from_this();
    int backoff = 1;
    while (!stopping) {
      smpp::EsmeConfig ec{
          cfg.smpp.smsc,    cfg.smpp.system_id, cfg.smpp.password, "", smpp::BindMode::receiver,
          cfg.address_range};
      esme = std::make_shared<smpp::Esme>(io.get_executor(), ec);
      auto keep = esme;
      try {
        co_await keep->bind();
        backoff = 1;
        // A named handler, not a lambda temporary in the co_await operand (GCC 12 coroutine bugs).
        smpp::Esme::DeliverHandler handler = [self](const smpp::ShortMessage& m) {
          auto payload = m.payload();
          std::vector<std::uint8_t> bytes(payload.begin(), payload.end());
          asio::co_spawn(self->io, self->tunnel(bytes), asio::detached);
        };
        co_await keep->receive(handler, 0);
      } catch (const std::exception& e) {
        spdlog::warn("gateway: SMPP receiver: {}", e.what());
      }
      if (stopping) break;
      metrics()
          .counter("mobix_gateway_smpp_reconnects_total", "Times the gateway re-bound to the SMSC")
          .inc();
      asio::steady_timer t(io, std::chrono::seconds(backoff));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, 30);
    }
  }

  // Steps E-G for one signal.
  asio::awaitable<void> tunnel(std::vector<std::uint8_t> sealed) {
    auto self = shared_from_this();
    ++active;
    struct Done {
      std::atomic<int>& a;
      ~Done() { --a; }
    } done{active};
    auto opened = signal::open(sealed, keys);
    if (auto* e = std::get_if<signal::Error>(&opened)) {
      signals("refused").inc();
      spdlog::warn("gateway: signal refused: {}", signal::to_string(*e));
      co_return;
    }
    const auto r = std::get<signal::AccessRequest>(opened);
    auto verdict = replay.check(r, static_cast<std::uint32_t>(std::time(nullptr)));
    if (verdict != signal::ReplayGuard::Verdict::accept) {
      signals(verdict == signal::ReplayGuard::Verdict::replayed ? "replayed" : "expired").inc();
      spdlog::warn("gateway: signal for tunnel {:016x} refused: {}", r.tunnel_id, signal::to_string(verdict));
      co_return;
    }
    // Where is the terminal now? Only the access sessions know.
    std::string ip;
    for (const auto& s : sessions.list())
      if (s.msisdn == r.msisdn && !s.ipv4.empty()) ip = s.ipv4;
    if (ip.empty()) {
      signals("not_attached").inc();
      spdlog::info("gateway: tunnel {:016x}: msisdn {} is not attached", r.tunnel_id, r.msisdn);
      co_return;
    }
    const auto t = std::chrono::seconds(cfg.connect_timeout);
    Conn terminal(io.get_executor());
    // Named locals, not temporaries, in co_await operands (GCC 12 destroys such temporaries twice).
    const Endpoint terminal_ep{ip, r.target_port};
    const Endpoint relay_ep{r.relay_ip, r.callback_port};
    if (auto ec = co_await terminal.connect(terminal_ep, t)) {
      signals("terminal_unreachable").inc();
      spdlog::info("gateway: tunnel {:016x}: {}:{} (msisdn {}) refused: {}", r.tunnel_id, ip, r.target_port,
                   r.msisdn, ec.message());
      co_return;
    }
    Conn relay(io.get_executor());
    std::string why;
    auto up = co_await mail::open_upstream(relay, relay_ep, mail::TlsMode::implicit, *tls, t, why);
    if (up != mail::UpstreamOpen::ok) {
      signals("relay_unreachable").inc();
      spdlog::warn("gateway: tunnel {:016x}: relay {}:{}: {}", r.tunnel_id, r.relay_ip, r.callback_port, why);
      co_return;
    }
    std::string key_hex;
    boost::algorithm::hex_lower(r.one_time_key.begin(), r.one_time_key.end(), std::back_inserter(key_hex));
    std::string hello = fmt::format("MOBIX-TUNNEL {:016x} {}\r\n", r.tunnel_id, key_hex);
    if (!co_await mail::write_all(relay, hello, t)) co_return;
    signals("tunnelled").inc();
    spdlog::info("gateway: tunnel {:016x}: msisdn {} at {}:{} connected to relay {}:{}", r.tunnel_id,
                 r.msisdn, ip, r.target_port, r.relay_ip, r.callback_port);
    auto bytes = co_await mail::relay(relay, terminal, std::chrono::seconds(300), std::chrono::hours(24));
    spdlog::info("gateway: tunnel {:016x} closed ({} bytes from the terminal, {} to it)", r.tunnel_id,
                 bytes.down, bytes.up);
  }
};

GatewayRole::GatewayRole(asio::io_context& io, const GatewayConfig& cfg, SessionTable& sessions)
    : impl_(std::make_shared<Impl>(io, cfg, sessions)) {}
GatewayRole::~GatewayRole() = default;
void GatewayRole::start() {
  asio::co_spawn(impl_->io, impl_->receive_loop(), asio::detached);
}
void GatewayRole::stop() {
  impl_->stopping = true;
  if (impl_->esme) impl_->esme->close();
}
bool GatewayRole::drained() const {
  return impl_->active.load() == 0;
}

}  // namespace mobix
