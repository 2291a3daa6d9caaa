#include <array>
#include <ctime>
#include <deque>
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
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "directory/directory.hpp"
#include "net/conn.hpp"
#include "net/http_client.hpp"
#include "net/tunnel_leg.hpp"
#include "relay/mail_signal.hpp"
#include "relay/tunnel_roles.hpp"
#include "smpp/esme.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;
using net::Conn;

namespace {

Counter& refused(const char* reason) {
  return metrics().counter("mobix_relay_clients_refused_total", "Relay clients not tunnelled, by reason",
                           std::string("reason=\"") + reason + "\"");
}
Counter& callbacks(const char* result) {
  return metrics().counter("mobix_relay_callbacks_total", "Gateway callbacks at the relay, by result",
                           std::string("result=\"") + result + "\"");
}

// A signal waiting for the relay's SMPP or SMTP session.
struct OutgoingSignal {
  std::vector<std::uint8_t> sealed;
  std::uint64_t id = 0;
  bool ok = false;
  asio::steady_timer done;  ///< cancelled when sent (or given up)
  explicit OutgoingSignal(const asio::any_io_executor& ex)
      : done(ex, asio::steady_timer::time_point::max()) {}
};

// A client waiting for its tunnel: the callback handler hands over the gateway's connection.
struct Pending {
  std::array<std::uint8_t, signal::kOneTimeKeySize> key{};
  asio::steady_timer ready;
  std::shared_ptr<net::Leg> callback;
  std::string server_early;  ///< what the server sent right behind the key line (e.g. an SSH banner)
  explicit Pending(const asio::any_io_executor& ex) : ready(ex) {}
};

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

struct RelayRole::Impl {
  asio::io_context& io;
  const RelayConfig& cfg;
  Directory& dir;
  signal::Key key;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<asio::ssl::context> webhook_tls;
  struct WebhookTarget {  // cfg.webhook_url, split once: https://host:port/path
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
  } webhook;
  /// Idle keep-alive connections to the gateway's webhook (step D over HTTPS).
  std::vector<std::unique_ptr<net::HttpsConnection>> webhook_idle;
  std::unique_ptr<TcpService> pub, cb;
  std::vector<std::unique_ptr<TcpService>> mapped_ports;  ///< one per cfg.port_map entry
  std::unordered_map<std::uint64_t, std::shared_ptr<Pending>> pending;
  std::unordered_map<std::string, unsigned> pending_per_ip;
  std::unordered_map<std::string, unsigned> pending_per_target;
  std::deque<std::shared_ptr<OutgoingSignal>> signal_queue;
  asio::steady_timer signal_wake{io, asio::steady_timer::time_point::max()};
  bool stopping = false;
  Counter& tunnels = metrics().counter("mobix_relay_tunnels_total", "Tunnels spliced by the relay");

  Impl(asio::io_context& i, const RelayConfig& c, Directory& d)
      : io(i),
        cfg(c),
        dir(d),
        key(signal::key_from_hex(c.signal_key.key_hex).value()),  // config checked the format
        tls(net::make_server_tls_context(c.tls_cert_file, c.tls_key_file)),
        webhook_tls(net::make_client_tls_context(c.webhook_ca_file)),
        webhook(c.webhook_url) {}

  static asio::awaitable<void> answer_http(Conn& c, int code, const char* reason, std::string text) {
    std::string body = text + "\n";
    std::string head = fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        "Content-Length: {}\r\n\r\n",
        code, reason, body.size());
    std::string all = head + body;
    co_await net::write_all(c, all, std::chrono::seconds(5));
  }

  // Step D over HTTPS: POST /v1/signal to the gateway's webhook (certificate verified), on a
  // kept-alive connection when one is idle (saves a TCP and a TLS handshake per tunnel).
  asio::awaitable<bool> send_webhook(std::vector<std::uint8_t> sealed, std::uint64_t id) {
    if (!webhook.endpoint) {
      spdlog::error("relay: webhook_url {} has no host:port", cfg.webhook_url);
      co_return false;
    }
    const auto t = std::chrono::seconds(5);
    const std::string body(sealed.begin(), sealed.end()), content_type = "application/octet-stream";
    // A kept connection the gateway may have closed meanwhile: on failure, once more on a new one.
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

  // Step D: the signal goes to the gateway as a binary short message through the SMSC, as an
  // e-mail, or as an HTTPS POST.
  asio::awaitable<bool> send_signal(std::vector<std::uint8_t> sealed, std::uint64_t id) {
    if (cfg.channel == SignalChannel::webhook) {
      bool ok = co_await send_webhook(sealed, id);
      co_return ok;
    }
    // Queued for the one SMPP (or SMTP) session the relay keeps open (SMSCs limit binds; one per
    // signal would also cost round trips per tunnel).
    auto item = std::make_shared<OutgoingSignal>(io.get_executor());
    item->sealed = sealed;
    item->id = id;
    signal_queue.push_back(item);
    signal_wake.cancel_one();
    co_await item->done.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return item->ok;
  }

  // One signal as a binary short message on the bound transmitter session (bound first if needed).
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

  // Sends queued signals in order over the one session the channel keeps (an SMPP transmitter
  // bind or an SMTP session); a failed session is dropped and re-opened once per signal.
  asio::awaitable<void> signal_sender() {
    std::unique_ptr<smpp::Esme> esme;
    std::optional<MailSignalSender> mail;
    if (cfg.channel == SignalChannel::email) mail.emplace(io.get_executor(), cfg.email);
    const std::string via = mail ? cfg.email.smtp.str() : cfg.smpp.smsc.str();
    while (!stopping) {
      if (signal_queue.empty()) {
        co_await signal_wake.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto item = signal_queue.front();
      signal_queue.pop_front();
      for (int attempt = 0; attempt < 2 && !item->ok; ++attempt) {
        std::string error;
        if (mail) {
          auto mail_error = co_await mail->send(item->sealed);
          error = mail_error;
          if (error.empty())
            spdlog::info("relay #{}: signal sent by e-mail to {} through {} ({} octets)", item->id,
                         cfg.email.to, via, item->sealed.size());
        } else {
          auto sent = co_await send_sms(*item, esme);
          error = sent.error;
          if (!sent) esme.reset();  // the SMPP session is gone or refused: bind again
        }
        item->ok = error.empty();
        if (!item->ok) spdlog::warn("relay #{}: cannot send the signal through {}: {}", item->id, via, error);
      }
      item->done.cancel();
    }
    if (esme) esme->close();
    if (mail) mail->close();
  }

  // Step C without terminating TLS: the HTTP Host header or the TLS SNI, from what the client sent
  // first (kept in `buf`: it goes through the tunnel ahead of the rest). nullopt when neither came:
  // refused here. Its own frame, so the read buffer is not kept for the tunnel's lifetime.
  static asio::awaitable<std::optional<std::string>> peek_name(Conn& c, std::string& buf, bool& is_tls) {
    std::array<char, 4096> chunk;
    for (;;) {
      auto [rec, n] = co_await c.read_some(asio::buffer(chunk), std::chrono::seconds(5));
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
        refused("no_name").inc();
        co_return std::nullopt;
      }
    }
  }

  // Steps C, D and I for one client. `mapped`: the client came to a port-mapped port (raw TCP).
  asio::awaitable<void> client(tcp::socket sock, std::uint64_t id, const RelayPortMap* mapped) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto ip = canonical(peer.address()).to_string();
    Conn c(std::move(sock));

    // Step C: which mobile server? The port tells, or a peek that does not terminate TLS.
    std::string buf;
    std::optional<std::string> name;
    bool is_tls = false;
    if (mapped)
      name = mapped->hostname;
    else
      name = co_await peek_name(c, buf, is_tls);
    if (!name) co_return;
    // Only HTTP clients get an HTTP status; TLS and raw TCP clients get a clean close.
    const bool http = !mapped && !is_tls;
    auto sub = dir.find(IdentityKind::hostname, *name);
    int target_port = mapped ? mapped->target_port : 0;
    if (sub && !mapped) {
      auto port_attr = sub->attrs.find(is_tls ? "relay.tls_port" : "relay.http_port");
      if (port_attr != sub->attrs.end()) target_port = std::atoi(port_attr->second.c_str());
    }
    if (!sub || target_port == 0 || sub->msisdn.empty()) {
      refused("unknown_server").inc();
      spdlog::info("relay #{}: {} asked for {}: no such mobile server", id, ip, *name);
      if (http) co_await answer_http(c, 404, "Not Found", "no mobile server is published as " + *name);
      co_return;
    }
    if (target_port <= 0 || target_port > 65535) {
      refused("unknown_server").inc();
      co_return;
    }
    std::span<const std::uint8_t> head(reinterpret_cast<const std::uint8_t*>(buf.data()), buf.size());
    if (auto no = check_policy(*sub, canonical(peer.address()), !http, head); no.reason) {
      refused(no.reason).inc();
      spdlog::info("relay #{}: {} refused for {}: {}", id, ip, *name, no.reason);
      if (http) co_await answer_http(c, no.status, no.status == 401 ? "Unauthorized" : "Forbidden", no.text);
      co_return;
    }
    if (pending_per_target[sub->msisdn] >= cfg.max_pending_per_target) {
      refused("target_rate_limited").inc();
      if (http) co_await answer_http(c, 429, "Too Many Requests", "too many tunnels waiting for this server");
      co_return;
    }
    if (pending_per_ip[ip] >= cfg.max_pending_per_client_ip) {
      refused("rate_limited").inc();
      if (http)
        co_await answer_http(c, 429, "Too Many Requests", "too many tunnels waiting from this address");
      co_return;
    }

    // Step D: hold the client and signal the gateway.
    signal::AccessRequest req;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&req.tunnel_id), sizeof req.tunnel_id) != 1 ||
        RAND_bytes(req.one_time_key.data(), static_cast<int>(req.one_time_key.size())) != 1) {
      // Without fresh randomness the one-time key could be guessed: no signal at all.
      refused("no_randomness").inc();
      spdlog::error("relay #{}: RAND_bytes failed; no tunnel for {}", id, *name);
      if (http) co_await answer_http(c, 503, "Service Unavailable", "try again later");
      co_return;
    }
    req.expires = static_cast<std::uint32_t>(std::time(nullptr) + cfg.hold_timeout);
    req.relay_ip = cfg.callback_address;
    req.callback_port = cb->local_endpoint().port;
    req.target_port = static_cast<std::uint16_t>(target_port);
    req.protocol = mapped    ? signal::Protocol::tcp
                   : !is_tls ? signal::Protocol::http
                   : cfg.callback_encryption == CallbackEncryption::always
                       ? signal::Protocol::tls
                       : signal::Protocol::tls_passthrough;
    req.msisdn = sub->msisdn;
    auto sealed = signal::seal(req, cfg.signal_key.id, key);
    if (std::holds_alternative<signal::Error>(sealed)) {
      refused("bad_signal_fields").inc();
      co_return;
    }
    auto p = std::make_shared<Pending>(io.get_executor());
    p->key = req.one_time_key;
    pending[req.tunnel_id] = p;
    ++pending_per_ip[ip];
    ++pending_per_target[sub->msisdn];
    spdlog::info("relay #{}: {} wants {} (msisdn {}, port {}): tunnel {:016x}", id, ip, *name, sub->msisdn,
                 target_port, req.tunnel_id);
    bool sent = co_await send_signal(std::get<std::vector<std::uint8_t>>(sealed), id);
    if (sent && !p->callback) {
      p->ready.expires_after(std::chrono::seconds(cfg.hold_timeout));
      co_await p->ready.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    pending.erase(req.tunnel_id);
    if (--pending_per_ip[ip] == 0) pending_per_ip.erase(ip);
    if (--pending_per_target[sub->msisdn] == 0) pending_per_target.erase(sub->msisdn);
    if (!p->callback) {
      refused(sent ? "gateway_timeout" : "signal_not_sent").inc();
      spdlog::info("relay #{}: tunnel {:016x} to {} not established: {}", id, req.tunnel_id, *name,
                   sent ? "no callback in time" : "the signal could not be sent");
      if (http)
        co_await answer_http(c, 503, "Service Unavailable",
                             "the mobile server " + *name + " is not reachable now");
      co_return;
    }
    // Step I: bytes the client sent early go first, then both directions are spliced.
    tunnels.inc();
    // The client's connection leaves the Conn for a tunnel leg (no Asio TLS or Beast state kept).
    boost::system::error_code lec;
    auto local = c.socket().local_endpoint(lec);
    net::Leg client_leg(std::move(c.socket()));
    auto& callback = *p->callback;
    const auto t = std::chrono::seconds(30);
    // Optionally, per service, the real client address first (PROXY protocol v2).
    if (auto pp = sub->attrs.find("relay.proxy_protocol"); pp != sub->attrs.end() && pp->second == "v2") {
      auto header = proxyproto::encode_v2(canonical(peer.address()).to_string(), peer.port(),
                                          canonical(local.address()).to_string(), local.port());
      if (header) {
        std::string h(header->begin(), header->end());
        if (!co_await callback.write_all(h, t)) co_return;
      }
    }
    if (!p->server_early.empty()) {
      if (!co_await client_leg.write_all(p->server_early, t)) co_return;
    }
    if (!buf.empty()) {
      if (!co_await callback.write_all(buf, t)) co_return;
    }
    // End-to-end TLS: the PROXY header and the ClientHello crossed under the leg's TLS; the rest is
    // protected by the client's own TLS, so the leg drops its TLS and both proxies splice(2).
    if (req.protocol == signal::Protocol::tls_passthrough) {
      std::string unexpected;
      if (!co_await callback.leave_tls(unexpected, 0, t)) {
        spdlog::warn("relay #{}: tunnel {:016x}: the gateway did not end the leg's TLS cleanly", id,
                     req.tunnel_id);
        co_return;
      }
    }
    const std::uint64_t early_up = buf.size(), early_down = p->server_early.size();
    std::string().swap(buf);
    std::string().swap(p->server_early);
    auto bytes = co_await net::splice(client_leg, callback, std::chrono::seconds(cfg.tunnel_idle_timeout),
                                      std::chrono::seconds(cfg.tunnel_max_duration));
    spdlog::info("relay #{}: tunnel {:016x} closed ({} bytes to the client, {} to the server{}{})", id,
                 req.tunnel_id, bytes.b_to_a + early_down, bytes.a_to_b + early_up,
                 bytes.zero_copy ? ", zero-copy" : "", bytes.timed_out ? ", timed out" : "");
  }

  // Step H: the gateway's callback presents the tunnel id and the one-time key.
  asio::awaitable<void> callback(tcp::socket sock, std::uint64_t id) {
    auto c = std::make_shared<net::Leg>(std::move(sock));
    std::string why;
    if (!co_await c->accept_tls(tls->native_handle(), std::chrono::seconds(10), why)) {
      callbacks("tls_failed").inc();
      spdlog::info("relay callback #{}: TLS: {}", id, why);
      co_return;
    }
    std::string buf;
    auto line = co_await c->read_line(buf, 128, std::chrono::seconds(10));
    std::uint64_t tunnel = 0;
    std::string key_hex;
    if (line && line->rfind("MOBIX-TUNNEL ", 0) == 0 && line->size() == 13 + 16 + 1 + 32) {
      tunnel = std::strtoull(line->substr(13, 16).c_str(), nullptr, 16);
      key_hex = line->substr(30);
    }
    auto it = pending.find(tunnel);
    if (it == pending.end()) {
      callbacks("unknown_tunnel").inc();  // expired, already used, or made up
      spdlog::info("relay callback #{}: unknown or used tunnel", id);
      co_return;
    }
    std::string presented;
    try {
      boost::algorithm::unhex(key_hex, std::back_inserter(presented));
    } catch (const std::exception&) {
    }
    auto& p = *it->second;
    if (presented.size() != p.key.size() ||
        CRYPTO_memcmp(presented.data(), p.key.data(), p.key.size()) != 0) {
      callbacks("bad_key").inc();
      spdlog::warn("relay callback #{}: wrong one-time key for tunnel {:016x}", id, tunnel);
      co_return;
    }
    callbacks("ok").inc();
    auto pending_entry = it->second;
    pending.erase(it);                  // single use
    pending_entry->server_early = buf;  // a server that speaks first: never dropped
    pending_entry->callback = c;
    pending_entry->ready.cancel();
  }
};

RelayRole::RelayRole(asio::io_context& io, const RelayConfig& cfg, Directory& dir)
    : impl_(std::make_shared<Impl>(io, cfg, dir)) {
  impl_->pub = std::make_unique<TcpService>(
      io, "relay-public", cfg.public_listen,
      [impl = impl_](tcp::socket s, std::uint64_t id) { return impl->client(std::move(s), id, nullptr); });
  for (const auto& m : cfg.port_map) {
    const RelayPortMap* entry = &m;  // cfg outlives the role
    impl_->mapped_ports.push_back(
        std::make_unique<TcpService>(io, "relay-port-" + std::to_string(m.listen.port), m.listen,
                                     [impl = impl_, entry](tcp::socket s, std::uint64_t id) {
                                       return impl->client(std::move(s), id, entry);
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
  if (impl_->cfg.channel != SignalChannel::webhook)
    asio::co_spawn(impl_->io, impl_->signal_sender(), asio::detached);
}
void RelayRole::stop() {
  impl_->stopping = true;
  impl_->signal_wake.cancel();
  for (auto& item : impl_->signal_queue) item->done.cancel();
  impl_->pub->stop();
  impl_->cb->stop();
  for (auto& m : impl_->mapped_ports) m->stop();
  for (auto& [id, p] : impl_->pending) p->ready.cancel();
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
