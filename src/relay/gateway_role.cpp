#include <atomic>
#include <ctime>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "codec/signal/signal.hpp"
#include "core/hex.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "net/conn.hpp"
#include "net/failure_limiter.hpp"
#include "net/http_server.hpp"
#include "net/tls_session_cache.hpp"
#include "net/tunnel_leg.hpp"
#include "net/tunnel_link.hpp"
#include "relay/mail_signal.hpp"
#include "relay/relay_links.hpp"
#include "relay/tunnel_roles.hpp"
#include "smpp/esme.hpp"
#include "spine/session_view.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace asio = boost::asio;
using net::Conn;

namespace {
Counter& signals(const char* result) {
  return metrics().counter("mobix_gateway_signals_total", "Access request signals at the gateway, by result",
                           std::string("result=\"") + result + "\"");
}
Counter& relay_handshakes(const char* kind) {
  return metrics().counter("mobix_gateway_relay_handshakes_total",
                           "TLS handshakes with the relay (legs and links), full or resumed from a ticket",
                           std::string("kind=\"") + kind + "\"");
}
Counter& link_events(const char* event) {
  return metrics().counter("mobix_gateway_links_total", "Multiplexed links to the relay, by event",
                           std::string("event=\"") + event + "\"");
}
}  // namespace

struct GatewayRole::Impl : std::enable_shared_from_this<GatewayRole::Impl> {
  asio::io_context& io;
  const GatewayConfig& cfg;
  SessionView& sessions;
  SignalReplayMemory& repo;
  StoreWriter& writer;
  signal::Keyring keys;
  signal::ReplayGuard replay;
  std::shared_ptr<asio::ssl::context> tls;
  net::TlsSessionCache relay_sessions;  ///< the relays' tickets: legs and links resume (issue 17)
  std::shared_ptr<smpp::Esme> esme;
  bool stopping = false;
  std::atomic<int> active{0};
  std::unique_ptr<HttpServer> webhook_service;
  std::unique_ptr<MailSignalReceiver> mail_receiver;
  net::FailureLimiter webhook_failures{20};               // refused POSTs per address per minute
  std::unordered_map<std::uint64_t, unsigned> legs_open;  ///< per link (tunnel id)
  std::unordered_set<net::Leg*> waiting_legs;             ///< dialled in, waiting for GO: closed on stop
  /// Multiplexed links by relay callback endpoint ("ip:port"), while up.
  std::unordered_map<std::string, std::shared_ptr<net::TunnelLink>> mux_links;

  void webhook(const HttpRequest& req, HttpReply reply);

  Impl(asio::io_context& i, const GatewayConfig& c, SessionView& s, SignalReplayMemory& r, StoreWriter& w)
      : io(i),
        cfg(c),
        sessions(s),
        repo(r),
        writer(w),
        replay(c.max_signal_lifetime),
        tls(net::make_client_tls_context(c.relay_ca_file)),
        relay_sessions(tls->native_handle()) {
    for (const auto& k : c.signal_keys)
      keys[k.id] = signal::key_from_hex(k.key_hex).value();  // config checked it
  }

  // Bound as an SMPP receiver; reconnects with backoff while running.
  asio::awaitable<void> receive_loop() {
    auto self = shared_from_this();
    int backoff = 1;
    while (!stopping) {
      smpp::EsmeConfig ec{cfg.smpp->smsc,           cfg.smpp->system_id, cfg.smpp->password, "",
                          smpp::BindMode::receiver, cfg.address_range};
      esme = std::make_shared<smpp::Esme>(io.get_executor(), ec);
      auto keep = esme;
      auto bound = co_await keep->bind();
      if (bound) {
        backoff = 1;
        // A named handler, not a lambda temporary in the co_await operand (GCC 12 coroutine bugs).
        smpp::Esme::DeliverHandler handler = [self](const smpp::ShortMessage& m) {
          auto payload = m.payload();
          std::vector<std::uint8_t> bytes(payload.begin(), payload.end());
          if (auto r = self->admit(bytes, "sms")) asio::co_spawn(self->io, self->tunnel(*r), asio::detached);
        };
        co_await keep->receive(handler, 0);
        spdlog::warn("gateway: SMPP receiver: the SMSC closed the session");
      } else {
        spdlog::warn("gateway: SMPP receiver: {}", bound.error);
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

  // Step E: the signal must open with one of our keys, not be expired and not be seen before.
  std::optional<signal::AccessRequest> admit(const std::vector<std::uint8_t>& sealed, const char* channel) {
    auto opened = signal::open(sealed, keys);
    if (auto* e = std::get_if<signal::Error>(&opened)) {
      signals("refused").inc();
      spdlog::warn("gateway: signal refused ({}): {}", channel, signal::to_string(*e));
      return std::nullopt;
    }
    const auto r = std::get<signal::AccessRequest>(opened);
    auto verdict = replay.check(r, static_cast<std::uint32_t>(std::time(nullptr)));
    if (verdict != signal::ReplayGuard::Verdict::accept) {
      signals(verdict == signal::ReplayGuard::Verdict::replayed ? "replayed" : "expired").inc();
      spdlog::warn("gateway: signal for tunnel {:016x} refused ({}): {}", r.tunnel_id, channel,
                   signal::to_string(verdict));
      return std::nullopt;
    }
    return r;
  }

  // Step E, durably: the signal is remembered on disk before anything acts on it, so a
  // replay after a restart (kill -9 included) is still refused.
  asio::awaitable<bool> remember(const signal::AccessRequest& r) {
    auto self = shared_from_this();
    // Shared, not on this frame: the writer's callback may come after a timeout ended the wait.
    auto committed = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(30));
    auto ok = std::make_shared<bool>(false);
    Change c{Change::Kind::put_seen_signal, {}, {}};
    c.signal = SeenSignal{r.tunnel_id, r.expires};
    writer.submit({c}, [self, ok, committed](StoreWriter::Outcome o, Refused) {
      asio::post(self->io, [ok, k = o == StoreWriter::Outcome::committed, committed] {
        *ok = k;
        committed->cancel();
      });
    });
    co_await committed->async_wait(asio::as_tuple(asio::use_awaitable));
    if (!*ok) {
      signals("store_failed").inc();
      spdlog::error("gateway: tunnel {:016x}: the replay memory could not be written; signal dropped",
                    r.tunnel_id);
    }
    co_return *ok;
  }

  // Steps F-G for one admitted signal: remembered, then the first leg of its link. `remembered` is
  // told whether step E held (the webhook answers 202 only then, 503 store_failed otherwise).
  asio::awaitable<void> tunnel(signal::AccessRequest r, std::function<void(bool)> remembered = {}) {
    auto self = shared_from_this();
    ++active;
    ActiveGuard done{active};
    const bool kept = co_await remember(r);
    if (remembered) remembered(kept);
    if (!kept) co_return;
    // A terminal that is not attached gets no leg: the relay's clients get their 503 at its timeout.
    if (!attached(r, "")) co_return;
    if (cfg.multiplex) {
      co_await open_link(r);
      co_return;
    }
    if (reserve_leg(r.tunnel_id)) co_await leg(r);
  }

  // Step G once for many tunnels: a multiplexed link to the relay (net/tunnel_link.hpp), which
  // opens a stream per client; each stream is steps F-G for one tunnel. The link closes after
  // link_idle_timeout without a tunnel; a newer link to the same relay replaces it.
  asio::awaitable<void> open_link(signal::AccessRequest r) {
    std::shared_ptr<net::Leg> relay = co_await dial_relay(r, true);
    if (!relay) co_return;
    net::LinkOptions o;
    o.max_streams = cfg.max_legs_per_link;
    o.stream_idle = std::chrono::seconds(cfg.tunnel_idle_timeout);
    o.stream_max = std::chrono::seconds(cfg.tunnel_max_duration);
    o.link_idle = std::chrono::seconds(cfg.link_idle_timeout);
    auto l = std::make_shared<net::TunnelLink>(std::move(relay), net::TunnelLink::Side::gateway, o);
    const std::string where = fmt::format("{}:{}", r.relay_ip, r.callback_port);
    std::weak_ptr<Impl> weak = shared_from_this();
    l->on_open([weak](std::shared_ptr<net::LinkStream> s) {
      if (auto impl = weak.lock()) impl->stream_opened(std::move(s));
    });
    l->on_stream_end([](const net::LinkStream& s) {
      if (s.reason().empty() && s.protocol() != "signal")
        spdlog::info("gateway: link tunnel to {} closed ({} bytes from the terminal, {} to it{}{})",
                     s.authority(), s.bytes().from_socket, s.bytes().to_socket,
                     s.bytes().timed_out ? ", timed out" : "", s.bytes().reset ? ", reset" : "");
    });
    l->on_closed([weak, raw = l.get(), where](const char* why) {
      link_events("closed").inc();
      spdlog::info("gateway: multiplexed link to relay {} closed: {}", where, why);
      auto impl = weak.lock();
      if (!impl) return;
      if (auto it = impl->mux_links.find(where); it != impl->mux_links.end() && it->second.get() == raw)
        impl->mux_links.erase(it);
    });
    if (!l->start()) {
      signals("relay_unreachable").inc();
      spdlog::warn("gateway: tunnel {:016x}: the multiplexed link to {} did not start", r.tunnel_id, where);
      co_return;
    }
    link_events("up").inc();
    spdlog::info("gateway: tunnel {:016x}: multiplexed link to relay {} up", r.tunnel_id, where);
    auto& slot = mux_links[where];
    if (slot) slot->retire();
    slot = std::move(l);
  }

  // A stream on a link asks for "<msisdn>:<port>": the terminal is found in the access sessions
  // (never trusted from the relay) and connected to (step F); 200 or 502 answers the relay.
  void stream_opened(std::shared_ptr<net::LinkStream> s) {
    if (s->protocol() == "signal") return link_signal(std::move(s));
    const auto& a = s->authority();
    const auto colon = a.rfind(':');
    const std::string msisdn = colon == std::string::npos ? std::string() : a.substr(0, colon);
    const int port = colon == std::string::npos ? 0 : std::atoi(a.c_str() + colon + 1);
    if (msisdn.empty() || port <= 0 || port > 65535) {
      signals("bad_request").inc();
      spdlog::warn("gateway: a link stream asked for '{}': not <msisdn>:<port>", a);
      return s->refuse("bad_request");
    }
    const std::string ip = terminal_ip(msisdn);
    if (ip.empty()) {
      signals("not_attached").inc();
      spdlog::info("gateway: link tunnel to msisdn {}: not attached", msisdn);
      return s->refuse("not_attached");
    }
    asio::co_spawn(io, connect_stream(std::move(s), msisdn, Endpoint{ip, static_cast<std::uint16_t>(port)}),
                   asio::detached);
  }

  // Step D over the link: the relay asks for a leg of its own (an end-to-end TLS tunnel that
  // splices, relay.end_to_end_tls). The signal is sealed and checked like one by SMS (step E);
  // 200 once it is remembered and the leg is on its way, else 502 with the reason.
  void link_signal(std::shared_ptr<net::LinkStream> s) {
    auto sealed = decode_hex(s->signal());
    if (!sealed) {
      signals("refused").inc();
      spdlog::warn("gateway: signal refused (link): not hex");
      return s->refuse("bad_signal");
    }
    auto r = admit(*sealed, "link");  // counted and logged when refused
    if (!r) return s->refuse("bad_signal");
    asio::co_spawn(io, leg_for_link_signal(std::move(s), *r), asio::detached);
  }

  asio::awaitable<void> leg_for_link_signal(std::shared_ptr<net::LinkStream> s, signal::AccessRequest r) {
    auto self = shared_from_this();
    ++active;
    ActiveGuard done{active};
    if (!co_await remember(r)) {
      s->refuse("store_failed");
      co_return;
    }
    if (!attached(r, " (link)")) {
      s->refuse("not_attached");
      co_return;
    }
    s->acknowledge();
    if (reserve_leg(r.tunnel_id)) co_await leg(r);
  }

  asio::awaitable<void> connect_stream(std::shared_ptr<net::LinkStream> s, std::string msisdn, Endpoint to) {
    auto self = shared_from_this();
    ++active;
    ActiveGuard done{active};
    std::string why;
    auto sock = co_await dial(io.get_executor(), to, std::chrono::seconds(cfg.connect_timeout), why);
    if (!sock) {
      signals("terminal_unreachable").inc();
      spdlog::info("gateway: link tunnel to msisdn {} at {}: {}", msisdn, to.str(), why);
      s->refuse("unreachable");
      co_return;
    }
    signals("tunnelled").inc();
    s->accept(std::move(*sock));
  }

  struct ActiveGuard {
    std::atomic<int>& a;
    ~ActiveGuard() { --a; }
  };

  // Where is the terminal now? Only the access sessions know (asked again for every leg).
  std::string terminal_ip(const std::string& msisdn) const {
    auto session = sessions.find_by_msisdn(msisdn);
    return session ? session->ipv4 : std::string();
  }

  // Is the signal's terminal attached now? Counted and logged when not (`via` names the channel).
  bool attached(const signal::AccessRequest& r, const char* via) {
    if (!terminal_ip(r.msisdn).empty()) return true;
    signals("not_attached").inc();
    spdlog::info("gateway: tunnel {:016x}{}: msisdn {} is not attached", r.tunnel_id, via, r.msisdn);
    return false;
  }

  // Legs open at once per link are bounded, whatever the relay asks for.
  bool reserve_leg(std::uint64_t link) {
    auto& n = legs_open[link];
    if (n >= cfg.max_legs_per_link) return false;
    ++n;
    return true;
  }
  void release_leg(std::uint64_t link) {
    auto it = legs_open.find(link);
    if (it != legs_open.end() && --it->second == 0) legs_open.erase(it);
  }

  // The relay's end of a new leg, TLS verified; the first line presents the link's key. Null when
  // the relay cannot be reached.
  asio::awaitable<std::unique_ptr<net::Leg>> dial_relay(const signal::AccessRequest& r, bool link = false) {
    const auto t = std::chrono::seconds(cfg.connect_timeout);
    const Endpoint relay_ep{r.relay_ip, r.callback_port};
    std::string why;
    auto relay_socket = co_await dial(io.get_executor(), relay_ep, t, why);
    bool up = relay_socket.has_value();
    auto relay = std::make_unique<net::Leg>(up ? std::move(*relay_socket) : asio::ip::tcp::socket(io));
    if (up) up = co_await relay->connect_tls(tls->native_handle(), r.relay_ip, t, why, &relay_sessions);
    if (up) relay_handshakes(relay->resumed() ? "resumed" : "full").inc();
    const std::string hello = leg::format_hello({r.tunnel_id, r.one_time_key, link});
    if (up) up = co_await relay->write_all(hello, t);
    if (!up) {
      signals("relay_unreachable").inc();
      spdlog::warn("gateway: tunnel {:016x}: relay {}:{}: {}", r.tunnel_id, r.relay_ip, r.callback_port,
                   why.empty() ? "closed" : why);
      co_return nullptr;
    }
    co_return relay;
  }

  // One leg of a link (relay/relay_links.hpp): dialled in, it waits for the relay's GO, then
  // connects to the terminal (step F), answers UP or DOWN, dials the further legs the relay asked
  // for, and splices. The caller reserved the leg.
  asio::awaitable<void> leg(signal::AccessRequest r) {
    auto self = shared_from_this();
    ++active;
    ActiveGuard done{active};
    struct Release {
      Impl& impl;
      std::uint64_t id;
      ~Release() { impl.release_leg(id); }
    } release{*this, r.tunnel_id};
    auto relay = co_await dial_relay(r);
    if (!relay) co_return;
    std::string buf;
    waiting_legs.insert(relay.get());
    auto go = co_await relay->read_line(buf, 64, std::chrono::seconds(cfg.leg_wait_timeout));
    waiting_legs.erase(relay.get());
    auto wanted = go ? leg::parse_go(*go) : std::nullopt;
    if (!wanted || !buf.empty()) {
      spdlog::debug("gateway: tunnel {:016x}: the relay closed a waiting leg", r.tunnel_id);
      co_return;  // the relay had no client for it, or we are stopping
    }
    const unsigned more = *wanted;
    const auto t = std::chrono::seconds(cfg.connect_timeout);
    const std::string ip = terminal_ip(r.msisdn);
    std::optional<asio::ip::tcp::socket> terminal_socket;
    std::string why = "not attached";
    if (!ip.empty()) {
      const Endpoint terminal_ep{ip, r.target_port};
      terminal_socket = co_await dial(io.get_executor(), terminal_ep, t, why);
    }
    if (!terminal_socket) {
      signals(ip.empty() ? "not_attached" : "terminal_unreachable").inc();
      spdlog::info("gateway: tunnel {:016x}: msisdn {} at {}:{}: {}", r.tunnel_id, r.msisdn, ip,
                   r.target_port, why);
      const std::string down = leg::format_down(ip.empty() ? "not_attached" : "unreachable");
      co_await relay->write_all(down, t);
      co_return;
    }
    net::Leg terminal(std::move(*terminal_socket));
    // The legs this gateway will dial (max_legs_per_link bounds them), so the relay counts right.
    unsigned granted = 0;
    while (granted < more && reserve_leg(r.tunnel_id)) ++granted;
    const std::string up = leg::format_up(granted);
    if (!co_await relay->write_all(up, t)) {
      for (unsigned i = 0; i < granted; ++i) release_leg(r.tunnel_id);
      co_return;
    }
    for (unsigned i = 0; i < granted; ++i) asio::co_spawn(io, leg(r), asio::detached);
    co_await splice_leg(r, *relay, terminal, ip);
  }

  // Step G's end: a tls_passthrough leg leaves TLS first; then both directions are spliced.
  asio::awaitable<void> splice_leg(const signal::AccessRequest& r, net::Leg& relay, net::Leg& terminal,
                                   std::string ip) {
    const auto t = std::chrono::seconds(cfg.connect_timeout);
    if (r.protocol == signal::Protocol::tls_passthrough) {
      // The relay sends the PROXY header and the client's ClientHello under TLS, then both ends
      // leave TLS: what follows is TLS end to end, spliced by both proxies.
      std::string first;
      if (!co_await relay.leave_tls(first, 64 * 1024, t)) {
        signals("relay_unreachable").inc();
        spdlog::warn("gateway: tunnel {:016x}: the relay did not end the leg's TLS cleanly", r.tunnel_id);
        co_return;
      }
      if (!first.empty()) {
        if (!co_await terminal.write_all(first, t)) co_return;
      }
    }
    signals("tunnelled").inc();
    spdlog::info("gateway: tunnel {:016x}: msisdn {} at {}:{} connected to relay {}:{}", r.tunnel_id,
                 r.msisdn, ip, r.target_port, r.relay_ip, r.callback_port);
    auto bytes = co_await net::splice(relay, terminal, std::chrono::seconds(cfg.tunnel_idle_timeout),
                                      std::chrono::seconds(cfg.tunnel_max_duration));
    spdlog::info("gateway: tunnel {:016x} closed ({} bytes from the terminal, {} to it{}{})", r.tunnel_id,
                 bytes.b_to_a, bytes.a_to_b, bytes.zero_copy ? ", zero-copy" : "",
                 bytes.timed_out ? ", timed out" : "");
  }

  // A connected socket (name resolved, `timeout` bounded), or nullopt with `why`. Its own frame:
  // the Conn's Beast state is not kept for the tunnel's lifetime.
  static asio::awaitable<std::optional<asio::ip::tcp::socket>> dial(asio::any_io_executor ex, Endpoint to,
                                                                    std::chrono::seconds timeout,
                                                                    std::string& why) {
    Conn c(ex);
    if (auto ec = co_await c.connect(to, timeout)) {
      why = ec.message();
      co_return std::nullopt;
    }
    co_return std::move(c.socket());
  }
};

// Step D over HTTPS: POST /v1/signal with the sealed signal as the body. 202 when admitted and
// remembered, 503 when the replay memory could not be written (nothing acts on the signal), 403
// otherwise (no detail for strangers), 404 for anything else; a refusal closes the connection and
// repeated refusals from one address are rate limited before the TLS handshake. An admitted
// signal's tunnel runs on its own; the connection stays for the relay's next signal (keep-alive).
void GatewayRole::Impl::webhook(const HttpRequest& req, HttpReply reply) {
  if (req.method != "POST" || req.path != "/v1/signal" || req.body.empty()) {
    signals("bad_request").inc();
    webhook_failures.record(req.peer);
    return reply(HttpResponse{404, "text/plain", "", true});
  }
  std::vector<std::uint8_t> sealed(req.body.begin(), req.body.end());
  auto r = admit(sealed, "webhook");
  spdlog::debug("gateway webhook from {}: {}", req.peer, r ? "accepted" : "refused");
  if (!r) {
    webhook_failures.record(req.peer);
    return reply(HttpResponse{403, "text/plain", "", true});
  }
  // 202 once the signal is durably remembered (step E): a relay that gets 503 knows it was dropped.
  const bool close = webhook_failures.blocked(req.peer);
  auto answer = [reply = std::move(reply), close](bool kept) {
    reply(kept ? HttpResponse{202, "text/plain", "", close}
               : HttpResponse{503, "text/plain", "store_failed\n", true});
  };
  asio::co_spawn(io, tunnel(*r, std::move(answer)), asio::detached);
}

GatewayRole::GatewayRole(asio::io_context& io, const GatewayConfig& cfg, SessionView& sessions,
                         SignalReplayMemory& repo, StoreWriter& writer)
    : impl_(std::make_shared<Impl>(io, cfg, sessions, repo, writer)) {
  auto seen = repo.load_seen_signals(static_cast<std::uint32_t>(std::time(nullptr)));
  for (const auto& s : seen) impl_->replay.remember(s.tunnel_id, s.expires);
  if (!seen.empty())
    spdlog::info("gateway: {} unexpired signals remembered from before the restart", seen.size());
  if (cfg.webhook_listen) {
    HttpServerOptions o;
    o.name = "gateway-webhook";
    o.tls = net::make_server_tls_context(cfg.webhook_cert_file, cfg.webhook_key_file);
    o.body_limit = signal::kMaxSealedSize;
    o.header_limit = 4096;
    o.read_timeout = std::chrono::seconds(10);
    o.idle_timeout = std::chrono::seconds(60);
    std::weak_ptr<Impl> weak_impl = impl_;
    o.admit = [weak_impl](const std::string& peer) {
      auto impl = weak_impl.lock();
      if (!impl) return false;
      if (!impl->webhook_failures.blocked(peer)) return true;
      signals("rate_limited").inc();
      return false;
    };
    impl_->webhook_service = std::make_unique<HttpServer>(
        io, *cfg.webhook_listen,
        [weak_impl](const HttpRequest& req, HttpReply reply) {
          if (auto impl = weak_impl.lock()) impl->webhook(req, std::move(reply));
        },
        std::move(o));
  }
  if (cfg.email) {
    std::weak_ptr<Impl> weak = impl_;
    impl_->mail_receiver = std::make_unique<MailSignalReceiver>(
        io, *cfg.email, [weak](const std::vector<std::uint8_t>& sealed, const std::string&) {
          auto impl = weak.lock();
          if (!impl) return false;
          auto r = impl->admit(sealed, "email");
          if (r) asio::co_spawn(impl->io, impl->tunnel(*r), asio::detached);
          return r.has_value();
        });
  }
}
GatewayRole::~GatewayRole() = default;
void GatewayRole::start() {
  if (impl_->cfg.smpp) asio::co_spawn(impl_->io, impl_->receive_loop(), asio::detached);
  if (impl_->webhook_service) impl_->webhook_service->start();
  if (impl_->mail_receiver) impl_->mail_receiver->start();
}
void GatewayRole::stop() {
  impl_->stopping = true;
  for (auto* leg : impl_->waiting_legs) leg->close();
  auto links = std::move(impl_->mux_links);
  for (auto& [where, l] : links) l->close("stopping");
  if (impl_->esme) impl_->esme->close();
  if (impl_->webhook_service) impl_->webhook_service->stop();
  if (impl_->mail_receiver) impl_->mail_receiver->stop();
}
bool GatewayRole::drained() const {
  return impl_->active.load() == 0 && (!impl_->webhook_service || impl_->webhook_service->drained()) &&
         (!impl_->mail_receiver || impl_->mail_receiver->drained());
}
std::optional<Endpoint> GatewayRole::email_endpoint() const {
  if (!impl_->mail_receiver) return std::nullopt;
  return impl_->mail_receiver->local_endpoint();
}
std::optional<Endpoint> GatewayRole::webhook_endpoint() const {
  if (!impl_->webhook_service) return std::nullopt;
  return impl_->webhook_service->local_endpoint();
}

void GatewayRole::listeners(Listeners& out) const {
  if (auto e = webhook_endpoint()) out["gateway.webhook"] = {*e, "https"};
  if (auto e = email_endpoint()) out["gateway.email"] = {*e, "smtp"};
}

}  // namespace mobix
