#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <functional>
#include <unordered_map>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/algorithm/hex.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "codec/peek/peek.hpp"
#include "codec/proxyproto/proxy_v2.hpp"
#include "codec/signal/signal.hpp"
#include "core/hex.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "directory/directory.hpp"
#include "net/conn.hpp"
#include "net/tls_context.hpp"
#include "net/token_buckets.hpp"
#include "net/tunnel_leg.hpp"
#include "net/tunnel_link.hpp"
#include "relay/relay_links.hpp"
#include "relay/signal_sender.hpp"
#include "relay/tunnel_roles.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::Conn;
using relay::Link;
using relay::LinkWaiter;
using relay::SpareLeg;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

namespace {

Counter& refused(const char* reason) {
  return metrics().counter("mobix_relay_clients_refused_total", "Relay clients not tunnelled, by reason",
                           std::string("reason=\"") + reason + "\"");
}
Counter& signals_counter(SignalOutcome o) {
  return metrics().counter("mobix_relay_signals_total", "Wake-up signals to the gateway, by outcome",
                           std::string("outcome=\"") + to_string(o) + "\"");
}
Counter& spares(const char* event) {
  return metrics().counter("mobix_relay_spare_legs_total",
                           "Legs kept dialled in for the next clients, by what became of them",
                           std::string("event=\"") + event + "\"");
}
Counter& link_signals(const char* outcome) {
  return metrics().counter("mobix_relay_link_signals_total",
                           "Legs asked for over the multiplexed link (no SMS), by outcome",
                           std::string("outcome=\"") + outcome + "\"");
}
Counter& link_events(const char* event) {
  return metrics().counter("mobix_relay_links_total", "Multiplexed links from the gateway, by event",
                           std::string("event=\"") + event + "\"");
}
Counter& handshakes(const char* kind) {
  return metrics().counter("mobix_relay_callback_handshakes_total",
                           "TLS handshakes on the callback port, full or resumed from a ticket",
                           std::string("kind=\"") + kind + "\"");
}
/// Session tickets after each callback handshake: the gateway uses each once (tls_session_cache.hpp)
/// and dials legs in parallel, so a few.
constexpr unsigned kCallbackTickets = 2;

Counter& callbacks(const char* result) {
  return metrics().counter("mobix_relay_callbacks_total", "Gateway callbacks at the relay, by result",
                           std::string("result=\"") + result + "\"");
}

// What a socket holds without reading it (bytes stay for the tunnel). A wait for readability can
// wake without anything there (the reactor saw an edge a read already consumed): `nothing`.
enum class Pending { nothing, data, closed };
Pending pending_input(asio::ip::tcp::socket& s) {
  char b;
  auto n = ::recv(s.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Pending::data;
  if (n == 0) return Pending::closed;
  return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? Pending::nothing : Pending::closed;
}
// The client closed its side (or reset): nobody to tunnel to.
bool peer_closed(asio::ip::tcp::socket& s) {
  return pending_input(s) == Pending::closed;
}
// Sleeps on `timer` until `deadline` or until `settled()`, looking at `s` every `tick` (without
// reading it). Returns what `s` showed: `nothing` when the wait ended otherwise. `timer.cancel()`
// wakes it to ask `settled()` again. (Polling, not a readiness wait on the socket: the client's
// socket belongs to a Beast stream, and a reactor wait beside it misbehaved.)
asio::awaitable<Pending> watch_until(asio::ip::tcp::socket& s, asio::steady_timer& timer,
                                     Clock::time_point deadline, std::chrono::milliseconds tick,
                                     std::function<bool()> settled) {
  for (;;) {
    const auto now = Clock::now();
    if (settled() || now >= deadline) co_return Pending::nothing;
    timer.expires_at(std::min(deadline, now + tick));
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec == asio::error::operation_aborted) continue;
    if (auto p = pending_input(s); p != Pending::nothing) co_return p;
  }
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  std::string hex;
  boost::algorithm::hex_lower(md, md + n, std::back_inserter(hex));
  return hex;
}

// The owner's policy for a published service (attributes at the relay). HTTP authentication is
// stored as a SHA-256, never the secret: "bearer-sha256:<hex of the token>" or
// "basic-sha256:<hex of user:password>". Returns the refusal reason, empty when allowed.
struct Refusal {
  const char* reason = nullptr;
  int status = 0;
  const char* text = nullptr;
};
Refusal check_policy(const Subscriber& sub, const boost::asio::ip::address& client, bool not_http,
                     std::span<const std::uint8_t> head) {
  auto attr = [&](const char* k) {
    auto it = sub.attrs.find(k);
    return it == sub.attrs.end() ? std::string() : it->second;
  };
  if (attr("relay.enabled") == "false")
    return {"switched_off", 403, "this mobile server is switched off by its owner"};
  if (auto allow = attr("relay.allow_from"); !allow.empty()) {
    bool ok = false;
    std::size_t pos = 0;
    while (pos <= allow.size() && !ok) {
      auto comma = allow.find(',', pos);
      auto item = allow.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (auto c = Cidr::parse(item); c && c->contains(client)) ok = true;
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
    if (!ok) return {"not_allowed", 403, "your address may not reach this mobile server"};
  }
  auto auth = attr("relay.http_auth");
  if (auth.empty()) return {};
  // HTTP authentication cannot be asked of TLS or raw TCP clients: such a service is refused
  // rather than left open.
  if (not_http) return {"unauthorized", 0, nullptr};
  auto colon = auth.find(':');
  std::string kind = auth.substr(0, colon), want = colon == std::string::npos ? "" : auth.substr(colon + 1);
  auto header = peek::http_header(head, "Authorization").value_or("");
  std::string secret;
  if (kind == "bearer-sha256" && header.rfind("Bearer ", 0) == 0) {
    secret = header.substr(7);
  } else if (kind == "basic-sha256" && header.rfind("Basic ", 0) == 0) {
    auto b64 = header.substr(6);
    std::string out(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (n > 0) {
      out.resize(static_cast<std::size_t>(n));
      while (!out.empty() && out.back() == '\0') out.pop_back();  // EVP_DecodeBlock pads with zeros
      secret = out;
    }
  }
  auto got = sha256_hex(secret);
  if (secret.empty() || got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), got.size()) != 0)
    return {"unauthorized", 401, "credentials required for this mobile server"};
  return {};
}

}  // namespace

// The service a client asked for (step C), once it is known and allowed.
struct Target {
  std::string name;
  Subscriber sub;
  int port = 0;
  signal::Protocol protocol = signal::Protocol::http;
  bool http = false;  ///< only HTTP clients get an HTTP status; TLS and raw TCP a clean close
  /// With the multiplexed link up: an end-to-end TLS tunnel that keeps its own, spliced leg.
  bool own_leg(EndToEndTlsPath configured) const {
    if (protocol != signal::Protocol::tls_passthrough) return false;
    auto a = sub.attrs.find("relay.end_to_end_tls");
    if (a != sub.attrs.end() && (a->second == "leg" || a->second == "link")) return a->second == "leg";
    return configured == EndToEndTlsPath::leg;
  }
  std::string link_key() const {
    return fmt::format("{}/{}/{}", sub.msisdn, port, static_cast<int>(protocol));
  }
};

const char* protocol_name(signal::Protocol p) {
  switch (p) {
    case signal::Protocol::tcp:
      return "tcp";
    case signal::Protocol::http:
      return "http";
    case signal::Protocol::tls:
      return "tls";
    case signal::Protocol::tls_passthrough:
      return "tls_passthrough";
  }
  return "tcp";
}

struct RelayRole::Impl : std::enable_shared_from_this<RelayRole::Impl> {
  asio::io_context& io;
  const RelayConfig& cfg;
  Directory& dir;
  signal::Key key;
  std::shared_ptr<asio::ssl::context> tls;
  SignalSender signals;
  relay::LinkTable links;
  net::TokenBuckets per_target, per_client, in_all;  ///< what strangers can make the operator send
  std::unique_ptr<TcpService> pub, cb;
  std::vector<std::unique_ptr<TcpService>> mapped_ports;  ///< one per cfg.port_map entry
  std::unordered_map<std::string, unsigned> pending_per_ip;
  std::unordered_map<std::string, unsigned> pending_per_target;
  std::shared_ptr<net::TunnelLink> mux;  ///< the gateway's multiplexed link, while one is up
  bool stopping = false;
  Counter& tunnels = metrics().counter("mobix_relay_tunnels_total", "Tunnels spliced by the relay");
  Counter& coalesced = metrics().counter("mobix_relay_coalesced_total",
                                         "Clients that waited for a signal or leg already on its way");

  Impl(asio::io_context& i, const RelayConfig& c, Directory& d)
      : io(i),
        cfg(c),
        dir(d),
        key(signal::key_from_hex(c.signal_key.key_hex).value()),  // config checked the format
        tls(net::make_server_tls_context(c.tls_cert_file, c.tls_key_file)),
        signals(i, c),
        per_target(c.signals_per_minute_per_target, c.signal_burst_per_target),
        per_client(c.signals_per_minute_per_client, c.signal_burst_per_client),
        in_all(c.signals_per_minute, c.signal_burst, 8) {}

  static asio::awaitable<void> answer_http(Conn& c, int code, const char* reason, std::string text) {
    std::string body = text + "\n";
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        "Content-Length: {}\r\n\r\n",
        code, reason, body.size());
    std::string all = head + body;
    co_await net::write_all(c, all, std::chrono::seconds(5));
  }

  // Step C without terminating TLS: the HTTP Host header or the TLS SNI, from what the client sent
  // first (kept in `buf`: it goes through the tunnel ahead of the rest). nullopt when neither came:
  // refused here. Its own frame, so the read buffer is not kept for the tunnel's lifetime.
  // The whole first flight has one deadline, not each read: a client trickling a byte at a time
  // (slowloris) is closed after kHeaderTimeout however it paces itself (issue 12 item 4).
  static constexpr auto kHeaderTimeout = std::chrono::seconds(10);
  static asio::awaitable<std::optional<std::string>> peek_name(Conn& c, std::string& buf, bool& is_tls) {
    std::array<char, 4096> chunk;
    const auto deadline = Clock::now() + kHeaderTimeout;
    for (;;) {
      const auto left = std::chrono::ceil<std::chrono::seconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        refused("header_timeout").inc();
        co_return std::nullopt;
      }
      auto [rec, n] = co_await c.read_some(asio::buffer(chunk), left);
      buf.append(chunk.data(), n);
      if (!buf.empty()) {
        is_tls = static_cast<unsigned char>(buf[0]) == 0x16;
        std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size());
        auto r = is_tls ? peek::tls_sni(bytes) : peek::http_host(bytes);
        if (auto* s = std::get_if<std::string>(&r)) co_return *s;
        if (std::get<peek::Outcome>(r) != peek::Outcome::need_more || buf.size() >= peek::kMaxPeek) {
          refused("no_name").inc();
          if (!is_tls)
            co_await answer_http(c, 400, "Bad Request", "name the mobile server in the Host header");
          co_return std::nullopt;
        }
      }
      if (rec) {
        refused(Clock::now() >= deadline ? "header_timeout" : "no_name").inc();
        co_return std::nullopt;
      }
    }
  }

  // Step C: which mobile server, and may this client reach it? nullopt when refused (answered).
  asio::awaitable<std::optional<Target>> find_target(Conn& c, std::uint64_t id, const RelayPortMap* mapped,
                                                     std::string& buf) {
    boost::system::error_code ec;
    auto peer = c.socket().remote_endpoint(ec);
    const auto ip = canonical(peer.address()).to_string();
    bool is_tls = false;
    std::optional<std::string> name;
    if (mapped)
      name = mapped->hostname;
    else
      name = co_await peek_name(c, buf, is_tls);
    if (!name) co_return std::nullopt;
    Target t;
    t.name = *name;
    t.http = !mapped && !is_tls;
    t.protocol = mapped                                                  ? signal::Protocol::tcp
                 : !is_tls                                               ? signal::Protocol::http
                 : cfg.callback_encryption == CallbackEncryption::always ? signal::Protocol::tls
                                                                         : signal::Protocol::tls_passthrough;
    auto sub = dir.find(IdentityKind::hostname, t.name);
    t.port = mapped ? mapped->target_port : 0;
    if (sub && !mapped) {
      auto port_attr = sub->attrs.find(is_tls ? "relay.tls_port" : "relay.http_port");
      if (port_attr != sub->attrs.end()) t.port = std::atoi(port_attr->second.c_str());
    }
    if (!sub || t.port <= 0 || t.port > 65535 || sub->msisdn.empty()) {
      refused("unknown_server").inc();
      spdlog::info("relay #{}: {} asked for {}: no such mobile server", id, ip, t.name);
      if (t.http) co_await answer_http(c, 404, "Not Found", "no mobile server is published as " + t.name);
      co_return std::nullopt;
    }
    std::span<const std::uint8_t> head(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size());
    if (auto no = check_policy(*sub, canonical(peer.address()), !t.http, head); no.reason) {
      refused(no.reason).inc();
      spdlog::info("relay #{}: {} refused for {}: {}", id, ip, t.name, no.reason);
      if (t.http)
        co_await answer_http(c, no.status, no.status == 401 ? "Unauthorized" : "Forbidden", no.text);
      co_return std::nullopt;
    }
    t.sub = std::move(*sub);
    co_return t;
  }

  // Step D, once per link: a new tunnel id and one-time key, sealed and sent. A refusal reason, or
  // nullptr when the signal is on its way.
  const char* start_signal(const std::shared_ptr<Link>& link, const Target& t, std::uint64_t id) {
    signal::AccessRequest req;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&req.tunnel_id), sizeof req.tunnel_id) != 1 ||
        RAND_bytes(req.one_time_key.data(), static_cast<int>(req.one_time_key.size())) != 1) {
      spdlog::error("relay #{}: RAND_bytes failed; no signal for {}", id, t.name);
      return "no_randomness";  // without fresh randomness the one-time key could be guessed
    }
    req.expires = static_cast<std::uint32_t>(std::time(nullptr) + cfg.hold_timeout);
    req.relay_ip = cfg.callback_address;
    req.callback_port = cb->local_endpoint().port;
    req.target_port = static_cast<std::uint16_t>(t.port);
    req.protocol = t.protocol;
    req.msisdn = t.sub.msisdn;
    auto sealed = signal::seal(req, cfg.signal_key.id, key);
    if (std::holds_alternative<signal::Error>(sealed)) return "bad_signal_fields";
    const auto old_id = link->tunnel_id;
    link->signalled(req.tunnel_id, req.one_time_key, Clock::now() + std::chrono::seconds(cfg.hold_timeout));
    links.rekey(link, old_id);
    spdlog::info("relay #{}: waking the gateway for {} (msisdn {}, port {}): link {:016x}", id, t.name,
                 t.sub.msisdn, t.port, req.tunnel_id);
    asio::co_spawn(
        io, send_link_signal(link, std::get<std::vector<std::uint8_t>>(std::move(sealed)), id, req.tunnel_id),
        asio::detached);
    return nullptr;
  }

  asio::awaitable<void> send_link_signal(std::shared_ptr<Link> link, std::vector<std::uint8_t> sealed,
                                         std::uint64_t id, std::uint64_t tunnel_id) {
    if (mux && mux->usable()) {
      co_await signal_over_link(std::move(link), encode_hex(sealed), id, tunnel_id);
      co_return;
    }
    // Not sent when every client waiting for it has gone by its turn.
    std::function<bool()> wanted = [link, tunnel_id] {
      return link->tunnel_id == tunnel_id && !link->waiters.empty();
    };
    auto outcome = co_await signals.send(std::move(sealed), id, wanted);
    signals_counter(outcome).inc();
    if (outcome == SignalOutcome::sent || link->tunnel_id != tunnel_id ||
        link->state != relay::LinkState::signalling)
      co_return;
    link->fail(outcome == SignalOutcome::abandoned ? "client_gone" : "signal_not_sent");
    links.settle(link, Clock::now());
  }

  // Step D over the multiplexed link, for a tunnel that keeps its own leg: the same sealed signal,
  // answered at once (200: remembered, the leg is on its way; 502: why not). No SMS is sent.
  asio::awaitable<void> signal_over_link(std::shared_ptr<Link> link, std::string sealed_hex, std::uint64_t id,
                                         std::uint64_t tunnel_id) {
    auto s = mux ? mux->signal(sealed_hex) : nullptr;
    const char* failure = s ? nullptr : "gateway_lost";
    if (s) {
      std::function<bool()> answered = [&s] {
        return s->answered() || s->state() == net::LinkStream::State::refused ||
               s->state() == net::LinkStream::State::closed;
      };
      co_await wait_stream(*s, answered, Clock::now() + std::chrono::seconds(cfg.hold_timeout));
      if (s->answered()) {
        s.reset();
      } else if (s->state() == net::LinkStream::State::refused) {
        failure = s->reason() == "not_attached" ? "terminal_unreachable" : "signal_refused";
      } else if (s->state() == net::LinkStream::State::opening) {
        s->cancel();
        failure = "gateway_timeout";
      } else {
        failure = "gateway_lost";
      }
    }
    link_signals(failure ? failure : "sent").inc();
    if (!failure) co_return;
    spdlog::info("relay #{}: no leg over the link for link {:016x}: {}{}", id, tunnel_id, failure,
                 s && !s->reason().empty() ? " (" + s->reason() + ")" : std::string());
    if (link->tunnel_id != tunnel_id || link->state != relay::LinkState::signalling) co_return;
    link->fail(failure);
    links.settle(link, Clock::now());
  }

  // Waits for the waiter's leg, its failure or the hold timeout, watching the client: false when
  // it closed meanwhile. Bytes it sends meanwhile (a request body) stay in its socket for the tunnel.
  asio::awaitable<bool> wait_for_leg(Conn& c, std::shared_ptr<LinkWaiter> w) {
    const auto deadline = Clock::now() + std::chrono::seconds(cfg.hold_timeout);
    std::function<bool()> settled = [w] { return w->leg || w->failure || w->multiplexed; };
    auto seen = co_await watch_until(c.socket(), w->ready, deadline, std::chrono::milliseconds(250), settled);
    if (seen == Pending::closed) co_return false;
    if (seen == Pending::data)
      co_await watch_until(c.socket(), w->ready, deadline, std::chrono::hours(1), settled);
    co_return true;
  }

  // A leg for this client: a spare, one already on its way, or one after a new signal (step D).
  // The waiter's `failure` says why there is none.
  asio::awaitable<std::shared_ptr<LinkWaiter>> obtain_leg(Conn& c, std::shared_ptr<Link> link,
                                                          const Target& t, std::string ip, std::uint64_t id) {
    auto w = std::make_shared<LinkWaiter>(io.get_executor());
    if (auto spare = link->take_spare()) {
      spare->taken = true;
      spare->wake.cancel();
      spares("used").inc();
      w->leg = spare->leg;
      w->more = hand_over(*link);
      co_return w;
    }
    const bool signal_due = !link->can_deliver(Clock::now());
    const bool costs = !(mux && mux->usable());  // over the link a signal is no SMS: no rate to pay
    if (!signal_due) {
      coalesced.inc();
    } else if (peer_closed(c.socket())) {
      w->failure = "client_gone";  // a client that hung up at once costs no signal
    } else if (costs && !per_client.take(ip)) {
      w->failure = "client_signal_rate";
    } else if (costs && !per_target.take(t.sub.msisdn)) {
      w->failure = "target_signal_rate";
    } else if (costs && !in_all.take("all")) {
      w->failure = "signal_rate";
    }
    if (w->failure) co_return w;
    // Waiting before the signal starts: the sender may run at once and asks who waits.
    link->waiters.push_back(w);
    if (signal_due) {
      if (auto failure = start_signal(link, t, id)) {
        link->remove_waiter(w.get());
        w->failure = failure;
        co_return w;
      }
    }
    const bool present = co_await wait_for_leg(c, w);
    if (!w->leg && !w->failure && !w->multiplexed) {
      link->remove_waiter(w.get());
      w->failure = present ? "gateway_timeout" : "client_gone";
    }
    co_return w;
  }

  // A leg goes to a client: the legs the link still needs are counted as asked for at once.
  unsigned hand_over(Link& link) {
    return link.hand_over(cfg.spare_legs,
                          std::min<unsigned>(relay::kMaxLegsPerGo, cfg.max_pending_per_target),
                          Clock::now() + std::chrono::seconds(cfg.hold_timeout));
  }

  // The GO/UP exchange on a leg a client took (relay_links.hpp): asks the gateway for `more` legs
  // and learns whether the terminal answered. nullptr when it did, else the refusal reason.

  asio::awaitable<const char*> start_leg(net::Leg& leg, std::shared_ptr<Link> link, unsigned more,
                                         std::string& server_early) {
    const auto t = std::chrono::seconds(cfg.hold_timeout);
    const std::string go = leg::format_go(more);
    std::optional<std::string> line;
    if (co_await leg.write_all(go, t)) line = co_await leg.read_line(server_early, 256, t);
    if (auto up = line ? leg::parse_up(*line) : std::nullopt) {
      // The gateway dials at most what it says (it bounds legs per link); the rest will not come.
      const unsigned granted = std::min(more, *up);
      link->legs_not_coming(more - granted);
      co_return nullptr;
    }
    link->legs_not_coming(more);  // the gateway dials more only after UP
    if (line && leg::parse_down(*line)) {
      link->fail("terminal_unreachable");  // everyone waiting for it learns now, not at the timeout
      co_return "terminal_unreachable";
    }
    co_return "gateway_lost";
  }

  // Steps C, D and I for one client. `mapped`: the client came to a port-mapped port (raw TCP).
  asio::awaitable<void> client(tcp::socket sock, std::uint64_t id, const RelayPortMap* mapped,
                               TcpService::Slot slot) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    const auto ip = canonical(peer.address()).to_string();
    Conn c(std::move(sock));
    std::string buf;  // what the client sent first: it goes through the tunnel ahead of the rest
    auto found = co_await find_target(c, id, mapped, buf);
    if (!found) co_return;
    const Target& t = *found;
    if (pending_per_target[t.sub.msisdn] >= cfg.max_pending_per_target) {
      refused("target_rate_limited").inc();
      spdlog::info("relay #{}: {} refused for {}: target_rate_limited ({} clients wait for it)", id, ip,
                   t.name, cfg.max_pending_per_target);
      if (t.http)
        co_await answer_http(c, 429, "Too Many Requests", "too many tunnels waiting for this server");
      co_return;
    }
    if (pending_per_ip[ip] >= cfg.max_pending_per_client_ip) {
      refused("rate_limited").inc();
      spdlog::info("relay #{}: {} refused for {}: rate_limited ({} of its tunnels wait)", id, ip, t.name,
                   cfg.max_pending_per_client_ip);
      if (t.http)
        co_await answer_http(c, 429, "Too Many Requests", "too many tunnels waiting from this address");
      co_return;
    }
    ++pending_per_ip[ip];
    ++pending_per_target[t.sub.msisdn];
    auto link = links.for_target(t.link_key());
    std::shared_ptr<net::Leg> leg;
    std::shared_ptr<net::LinkStream> stream;
    std::string server_early;
    const char* failure = nullptr;
    // No signal and no handshake while the link is up, unless the tunnel keeps its own leg.
    bool via_link = mux && mux->usable() && !t.own_leg(cfg.end_to_end_tls);
    // A spare whose gateway vanished unnoticed is dropped and the next way tried, once.
    for (int attempt = 0; attempt < 2 && !leg && !via_link; ++attempt) {
      auto w = co_await obtain_leg(c, link, t, ip, id);
      failure = w->failure;
      via_link = w->multiplexed;
      if (!w->leg) break;
      failure = co_await start_leg(*w->leg, link, w->more, server_early);
      if (!failure) leg = w->leg;
      if (failure && std::string_view(failure) != "gateway_lost") break;
    }
    if (via_link) stream = co_await open_stream(c, t, buf, peer, failure);
    links.settle(link, Clock::now());
    if (--pending_per_ip[ip] == 0) pending_per_ip.erase(ip);
    if (--pending_per_target[t.sub.msisdn] == 0) pending_per_target.erase(t.sub.msisdn);
    if (stream) {
      // What found the tunnel is freed before it runs: the subscriber's record, the first bytes,
      // the waiting state (issue 17: memory per idle tunnel).
      std::string name = std::move(found->name);
      found.reset();
      link.reset();
      std::string().swap(buf);
      run_link_tunnel(c, std::move(name), std::move(stream), id, std::move(slot));
      co_return;
    }
    if (!leg) {
      co_await refuse_tunnel(c, t, id, ip, failure ? failure : "gateway_lost");
      co_return;
    }
    co_await run_tunnel(c, t, *leg, std::move(buf), std::move(server_early), peer, id);
  }

  // Seed 001 steps D-I over the multiplexed link: a CONNECT stream for the terminal carries the
  // optional PROXY header and the client's first bytes; the gateway answers once it reached the
  // terminal. Null (and `failure`) when it did not.
  asio::awaitable<std::shared_ptr<net::LinkStream>> open_stream(Conn& c, const Target& t,
                                                                const std::string& buf,
                                                                const tcp::endpoint& peer,
                                                                const char*& failure) {
    std::string early;
    if (auto pp = t.sub.attrs.find("relay.proxy_protocol"); pp != t.sub.attrs.end() && pp->second == "v2") {
      boost::system::error_code lec;
      auto local = c.socket().local_endpoint(lec);
      auto header = proxyproto::encode_v2(canonical(peer.address()).to_string(), peer.port(),
                                          canonical(local.address()).to_string(), local.port());
      if (header) early.assign(header->begin(), header->end());
    }
    early += buf;
    auto s = mux && mux->usable() ? mux->open(fmt::format("{}:{}", t.sub.msisdn, t.port),
                                              protocol_name(t.protocol), std::move(early))
                                  : nullptr;
    if (!s) {
      failure = "gateway_lost";
      co_return nullptr;
    }
    const auto deadline = Clock::now() + std::chrono::seconds(cfg.hold_timeout);
    co_await wait_stream(
        *s, [&s] { return s->state() != net::LinkStream::State::opening; }, deadline);
    switch (s->state()) {
      case net::LinkStream::State::open:
        co_return s;
      case net::LinkStream::State::refused:
        failure = "terminal_unreachable";
        break;
      case net::LinkStream::State::opening:
        s->cancel();
        failure = "gateway_timeout";
        break;
      case net::LinkStream::State::closed:
        failure = "gateway_lost";
        break;
    }
    co_return nullptr;
  }

  static asio::awaitable<void> wait_stream(net::LinkStream& s, std::function<bool()> done,
                                           Clock::time_point deadline) {
    while (!done() && Clock::now() < deadline) {
      s.changed().expires_at(deadline);
      co_await s.changed().async_wait(kTuple);
    }
  }

  // Step I over the link: the client's connection joins its stream until both ways ended. The
  // stream keeps the connection's listener slot (the per-address cap still counts it) and logs
  // its end; this coroutine and its caller's end now (issue 17: memory per idle tunnel).
  void run_link_tunnel(Conn& c, std::string name, std::shared_ptr<net::LinkStream> s, std::uint64_t id,
                       TcpService::Slot slot) {
    tunnels.inc();
    s->on_end(std::move(slot), [name = std::move(name), id](const net::LinkStream& st) {
      const auto& b = st.bytes();
      spdlog::info(
          "relay #{}: tunnel to {} over the link closed ({} bytes to the client, {} to the server{}{})", id,
          name, b.to_socket, b.from_socket, b.timed_out ? ", timed out" : "", b.reset ? ", reset" : "");
    });
    s->attach(std::move(c.socket()));
  }

  // Step H for a multiplexed link: the gateway presented a signal's key with MOBIX-LINK; from now
  // on the relay opens streams on it (net/tunnel_link.hpp). A newer link replaces an older one,
  // which closes once its tunnels ended.
  void accept_link(std::shared_ptr<net::Leg> c, const std::string& received, std::uint64_t id) {
    net::LinkOptions o;
    o.stream_idle = std::chrono::seconds(cfg.tunnel_idle_timeout);
    o.stream_max = std::chrono::seconds(cfg.tunnel_max_duration);
    auto l = std::make_shared<net::TunnelLink>(std::move(c), net::TunnelLink::Side::relay, o);
    std::weak_ptr<Impl> weak = shared_from_this();
    l->on_closed([weak, raw = l.get(), id](const char* why) {
      link_events("closed").inc();
      spdlog::info("relay callback #{}: multiplexed link closed: {}", id, why);
      if (auto impl = weak.lock(); impl && impl->mux.get() == raw) impl->mux.reset();
    });
    if (!l->start(received)) {
      callbacks("bad_protocol").inc();
      spdlog::warn("relay callback #{}: the multiplexed link did not start", id);
      return;
    }
    callbacks("ok").inc();
    link_events("up").inc();
    spdlog::info("relay callback #{}: multiplexed link up; tunnels go over it without signals", id);
    if (mux) mux->retire();
    mux = std::move(l);
    links.for_each([](Link& k) { k.link_up(); });
  }

  asio::awaitable<void> refuse_tunnel(Conn& c, const Target& t, std::uint64_t id, const std::string& ip,
                                      const char* why) {
    refused(why).inc();
    spdlog::info("relay #{}: no tunnel from {} to {}: {}", id, ip, t.name, why);
    if (!t.http || std::string_view(why) == "client_gone") co_return;
    const std::string_view reason = why;
    if (reason == "client_signal_rate" || reason == "target_signal_rate" || reason == "signal_rate")
      co_await answer_http(c, 429, "Too Many Requests",
                           "the mobile server " + t.name + " was woken too often; try later");
    else
      co_await answer_http(c, 503, "Service Unavailable",
                           "the mobile server " + t.name + " is not reachable now");
  }

  // Step I: bytes each side sent early go first, then both directions are spliced.
  asio::awaitable<void> run_tunnel(Conn& c, const Target& t, net::Leg& callback, std::string buf,
                                   std::string server_early, tcp::endpoint peer, std::uint64_t id) {
    tunnels.inc();
    // The client's connection leaves the Conn for a tunnel leg (no Asio TLS or Beast state kept).
    boost::system::error_code lec;
    auto local = c.socket().local_endpoint(lec);
    net::Leg client_leg(std::move(c.socket()));
    const auto timeout = std::chrono::seconds(30);
    // Optionally, per service, the real client address first (PROXY protocol v2).
    if (auto pp = t.sub.attrs.find("relay.proxy_protocol"); pp != t.sub.attrs.end() && pp->second == "v2") {
      auto header = proxyproto::encode_v2(canonical(peer.address()).to_string(), peer.port(),
                                          canonical(local.address()).to_string(), local.port());
      if (header) {
        std::string h(header->begin(), header->end());
        if (!co_await callback.write_all(h, timeout)) co_return;
      }
    }
    if (!server_early.empty()) {
      if (!co_await client_leg.write_all(server_early, timeout)) co_return;
    }
    if (!buf.empty()) {
      if (!co_await callback.write_all(buf, timeout)) co_return;
    }
    // End-to-end TLS: the PROXY header and the ClientHello crossed under the leg's TLS; the rest is
    // protected by the client's own TLS, so the leg drops its TLS and both proxies splice(2).
    if (t.protocol == signal::Protocol::tls_passthrough) {
      std::string unexpected;
      if (!co_await callback.leave_tls(unexpected, 0, timeout)) {
        spdlog::warn("relay #{}: the gateway did not end the leg's TLS cleanly", id);
        co_return;
      }
    }
    const std::uint64_t early_up = buf.size(), early_down = server_early.size();
    std::string().swap(buf);
    std::string().swap(server_early);
    auto bytes = co_await net::splice(client_leg, callback, std::chrono::seconds(cfg.tunnel_idle_timeout),
                                      std::chrono::seconds(cfg.tunnel_max_duration));
    spdlog::info("relay #{}: tunnel to {} closed ({} bytes to the client, {} to the server{}{})", id, t.name,
                 bytes.b_to_a + early_down, bytes.a_to_b + early_up, bytes.zero_copy ? ", zero-copy" : "",
                 bytes.timed_out ? ", timed out" : "");
  }

  // Step H: the gateway's callback presents the link's tunnel id and one-time key.
  asio::awaitable<void> callback(tcp::socket sock, std::uint64_t id) {
    auto c = std::make_shared<net::Leg>(std::move(sock));
    std::string why;
    // Tickets let the gateway resume its next leg or link: no certificate signed or verified then.
    if (!co_await c->accept_tls(tls->native_handle(), std::chrono::seconds(10), why, kCallbackTickets)) {
      callbacks("tls_failed").inc();
      spdlog::info("relay callback #{}: TLS: {}", id, why);
      co_return;
    }
    handshakes(c->resumed() ? "resumed" : "full").inc();
    std::string buf;
    auto line = co_await c->read_line(buf, 128, std::chrono::seconds(10));
    auto hello = line ? leg::parse_hello(*line) : std::nullopt;
    auto link = hello ? links.for_tunnel(hello->tunnel_id) : nullptr;
    if (!link) {
      callbacks("unknown_tunnel").inc();  // expired, superseded, or made up
      spdlog::info("relay callback #{}: unknown tunnel", id);
      co_return;
    }
    const auto tunnel = hello->tunnel_id;
    static_assert(leg::kKeySize == signal::kOneTimeKeySize);
    if (CRYPTO_memcmp(hello->key.data(), link->key.data(), link->key.size()) != 0) {
      callbacks("bad_key").inc();
      spdlog::warn("relay callback #{}: wrong one-time key for link {:016x}", id, tunnel);
      co_return;
    }
    if (hello->link && link->leg_arrived(Clock::now())) {
      accept_link(std::move(c), buf, id);
      co_return;
    }
    if (!buf.empty() || hello->link || !link->leg_arrived(Clock::now())) {
      // Bytes before our GO, or a leg nobody asked for: a leaked key adds no legs.
      callbacks(buf.empty() || hello->link ? "unrequested" : "bad_protocol").inc();
      spdlog::warn("relay callback #{}: link {:016x}: {}", id, tunnel,
                   buf.empty() ? "a leg that was not asked for" : "data before GO");
      co_return;
    }
    callbacks("ok").inc();
    if (auto w = link->next_waiter()) {
      w->leg = c;
      w->more = hand_over(*link);
      w->ready.cancel();
      co_return;
    }
    if (link->spares.size() >= cfg.spare_legs) {
      spares("surplus").inc();  // its client gave up meanwhile, and the link has its spares
      links.settle(link, Clock::now());
      co_return;
    }
    auto spare = std::make_shared<SpareLeg>(io.get_executor());
    spare->leg = c;
    link->spares.push_back(spare);
    spares("kept").inc();
    asio::co_spawn(io, hold_spare(link, spare), asio::detached);
  }

  // A spare leg waits for a client; it goes when it idles too long or the gateway closes it.
  asio::awaitable<void> hold_spare(std::shared_ptr<Link> link, std::shared_ptr<SpareLeg> s) {
    const auto deadline = Clock::now() + std::chrono::seconds(cfg.spare_leg_idle_timeout);
    std::function<bool()> taken = [this, s] { return s->taken || stopping; };
    auto seen = co_await watch_until(s->leg->socket(), s->wake, deadline, std::chrono::seconds(1), taken);
    if (s->taken) co_return;
    link->remove_spare(s.get());
    spares(seen != Pending::nothing ? "gateway_closed" : "idle_closed").inc();
    s->leg->close();
    links.settle(link, Clock::now());
  }

  void stop_links() {
    if (mux) mux->close("stopping");
    links.for_each([](Link& l) {
      l.fail("stopping");
      for (auto& s : l.spares) s->wake.cancel();
    });
  }
};

RelayRole::RelayRole(asio::io_context& io, const RelayConfig& cfg, Directory& dir)
    : impl_(std::make_shared<Impl>(io, cfg, dir)) {
  impl_->pub =
      std::make_unique<TcpService>(io, "relay-public", cfg.public_listen,
                                   [impl = impl_](tcp::socket s, std::uint64_t id, TcpService::Slot slot) {
                                     return impl->client(std::move(s), id, nullptr, std::move(slot));
                                   });
  for (const auto& m : cfg.port_map) {
    const RelayPortMap* entry = &m;  // cfg outlives the role
    impl_->mapped_ports.push_back(std::make_unique<TcpService>(
        io, "relay-port-" + std::to_string(m.listen.port), m.listen,
        [impl = impl_, entry](tcp::socket s, std::uint64_t id, TcpService::Slot slot) {
          return impl->client(std::move(s), id, entry, std::move(slot));
        }));
  }
  impl_->cb = std::make_unique<TcpService>(
      io, "relay-callback", cfg.callback_listen,
      [impl = impl_](tcp::socket s, std::uint64_t id) { return impl->callback(std::move(s), id); });
}
RelayRole::~RelayRole() = default;
void RelayRole::start() {
  impl_->cb->start();
  impl_->pub->start();
  for (auto& m : impl_->mapped_ports) m->start();
  impl_->signals.start();
}
void RelayRole::stop() {
  impl_->stopping = true;
  impl_->signals.stop();
  impl_->pub->stop();
  impl_->cb->stop();
  for (auto& m : impl_->mapped_ports) m->stop();
  impl_->stop_links();
}
bool RelayRole::drained() const {
  for (const auto& m : impl_->mapped_ports)
    if (!m->drained()) return false;
  return impl_->pub->drained() && impl_->cb->drained();
}
Endpoint RelayRole::public_endpoint() const {
  return impl_->pub->local_endpoint();
}
Endpoint RelayRole::callback_endpoint() const {
  return impl_->cb->local_endpoint();
}
void RelayRole::listeners(Listeners& out) const {
  out["relay.public"] = {public_endpoint(), "http/tls-sni"};
  out["relay.callback"] = {callback_endpoint(), "tls"};
}

}  // namespace mobix
