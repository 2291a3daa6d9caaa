#include "roaming/radsec.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <deque>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "codec/radius/radsec.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "net/tls_context.hpp"

namespace mobix::roaming {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using Stream = ssl::stream<tcp::socket>;

namespace {

Counter& counter(const std::string& name, const std::string& help, const std::string& labels) {
  return metrics().counter(name, help, labels);
}

std::shared_ptr<ssl::context> make_context(const RoamingConfig& cfg, bool server) {
  // Both ends must show a certificate chaining to the roaming CA (RFC 6614 2.4), not revoked.
  try {
    return net::make_tls_context({server ? net::TlsOptions::Side::server : net::TlsOptions::Side::client,
                                  cfg.tls_cert_file,
                                  cfg.tls_key_file,
                                  cfg.ca_file,
                                  true,
                                  cfg.crl_file,
                                  false,
                                  {}});
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("roaming: RadSec: ") + e.what());
  }
}

/// The TLS context for new connections; made again when the CRL file changes (a CA publishes a
/// new CRL without the node restarting). A CRL that cannot be read keeps the last good context.
class Contexts {
 public:
  Contexts(const RoamingConfig& cfg, bool server)
      : cfg_(cfg), server_(server), ctx_(make_context(cfg, server)) {
    crl_time_ = crl_mtime();
  }
  std::shared_ptr<ssl::context> current() {
    if (cfg_.crl_file.empty()) return ctx_;
    auto t = crl_mtime();
    if (t == crl_time_) return ctx_;
    crl_time_ = t;
    try {
      ctx_ = make_context(cfg_, server_);
      spdlog::info("roaming: RadSec: CRL {} re-read", cfg_.crl_file);
    } catch (const std::exception& e) {
      spdlog::error("{}; the previous CRL stays in force", e.what());
    }
    return ctx_;
  }

 private:
  std::filesystem::file_time_type crl_mtime() const {
    std::error_code ec;
    auto t = std::filesystem::last_write_time(cfg_.crl_file, ec);
    return ec ? std::filesystem::file_time_type{} : t;
  }
  const RoamingConfig& cfg_;
  bool server_;
  std::shared_ptr<ssl::context> ctx_;
  std::filesystem::file_time_type crl_time_{};
};

/// Why the peer's certificate failed verification ("certificate revoked"), for the log line.
std::string verify_detail(SSL* ssl) {
  long v = SSL_get_verify_result(ssl);
  return v == X509_V_OK ? std::string() : std::string(" (") + X509_verify_cert_error_string(v) + ")";
}

/// The pins of one partner against a certificate that already chained to the roaming CA.
bool matches(X509* cert, const RoamingPartnerConfig& p) {
  return net::matches_pin(cert, {p.certificate_sha256, p.certificate_name});
}

// One RadSec connection: frames in (RFC 6614 2.3), a write queue out.
class Link : public std::enable_shared_from_this<Link> {
 public:
  Link(tcp::socket sock, std::shared_ptr<ssl::context> ctx)
      : ctx_(std::move(ctx)), stream_(std::move(sock), *ctx_) {}
  Stream& stream() { return stream_; }

  void send(Bytes packet) {
    if (closed_) return;
    queue_.push_back(std::move(packet));
    if (writing_) return;
    writing_ = true;
    asio::co_spawn(stream_.get_executor(), write_loop(shared_from_this()), asio::detached);
  }

  /// Calls `on_packet` for every complete packet until the peer closes or misbehaves.
  asio::awaitable<void> read_loop(std::function<void(Bytes)> on_packet, const std::string& peer) {
    Bytes buf;
    std::array<std::uint8_t, 8192> chunk;
    for (;;) {
      auto [ec, n] =
          co_await stream_.async_read_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (ec) break;
      buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<long>(n));
      std::size_t used = 0;
      for (;;) {
        auto f = radius::next_frame(std::span(buf).subspan(used));
        if (f.status == radius::Frame::Status::need_more) break;
        if (f.status == radius::Frame::Status::invalid) {
          counter("mobix_radsec_dropped_total", "RadSec connections closed for bad framing", "").inc();
          spdlog::warn("radsec {}: invalid RADIUS length {}, closing", peer, f.length);
          close();
          co_return;
        }
        on_packet(
            Bytes(buf.begin() + static_cast<long>(used), buf.begin() + static_cast<long>(used + f.length)));
        used += f.length;
      }
      buf.erase(buf.begin(), buf.begin() + static_cast<long>(used));
    }
    close();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    stream_.lowest_layer().close(ec);
  }
  bool closed() const { return closed_; }

 private:
  static asio::awaitable<void> write_loop(std::shared_ptr<Link> self) {
    while (!self->queue_.empty() && !self->closed_) {
      auto [ec, n] = co_await asio::async_write(self->stream_, asio::buffer(self->queue_.front()),
                                                asio::as_tuple(asio::use_awaitable));
      if (ec) {
        self->close();
        break;
      }
      self->queue_.pop_front();
    }
    self->queue_.clear();
    self->writing_ = false;
  }

  std::shared_ptr<ssl::context> ctx_;  // outlives the stream made from it (a CRL change makes a new one)
  Stream stream_;
  std::deque<Bytes> queue_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace

// ---------------------------------------------------------------- server (home side)

namespace {
asio::awaitable<void> nothing() {
  co_return;
}
}  // namespace

struct RadsecServer::Impl : std::enable_shared_from_this<RadsecServer::Impl> {
  asio::io_context& io;
  const RoamingConfig& cfg;
  Handler handler;
  Contexts contexts;
  /// The listener: connection caps per listener and per address, accept backoff (core/tcp_service).
  std::unique_ptr<TcpService> service;
  std::vector<std::weak_ptr<Link>> links;
  bool stopping = false;

  Impl(asio::io_context& i, const RoamingConfig& c, Handler h)
      : io(i), cfg(c), handler(std::move(h)), contexts(c, true) {}

  static asio::awaitable<void> session(std::shared_ptr<Impl> self, tcp::socket sock) {
    boost::system::error_code ec;
    auto peer_ep = sock.remote_endpoint(ec);
    std::string peer = ec ? "?" : peer_ep.address().to_string();
    sock.set_option(tcp::no_delay(true), ec);
    auto link = std::make_shared<Link>(std::move(sock), self->contexts.current());
    asio::steady_timer timer(self->io);
    timer.expires_after(std::chrono::seconds(10));
    auto hs = co_await (
        link->stream().async_handshake(ssl::stream_base::server, asio::as_tuple(asio::use_awaitable)) ||
        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (hs.index() == 1 || std::get<0>(std::get<0>(hs))) {
      counter("mobix_radsec_refused_total", "RadSec connections refused, by reason", "reason=\"tls\"").inc();
      spdlog::warn("radsec: TLS handshake with {} failed{}{}", peer,
                   hs.index() == 0 ? ": " + std::get<0>(std::get<0>(hs)).message() : " (timeout)",
                   verify_detail(link->stream().native_handle()));
      link->close();
      co_return;
    }
    X509* cert = SSL_get1_peer_certificate(link->stream().native_handle());
    const RoamingPartnerConfig* partner = nullptr;
    for (const auto& p : self->cfg.partners)
      if (matches(cert, p)) {
        partner = &p;
        break;
      }
    X509_free(cert);
    if (!partner) {
      counter("mobix_radsec_refused_total", "RadSec connections refused, by reason",
              "reason=\"unknown_peer\"")
          .inc();
      spdlog::warn("radsec: {} shows a valid certificate that matches no roaming partner's pin; closing",
                   peer);
      link->close();
      co_return;
    }
    spdlog::info("radsec: partner {} connected from {}", partner->name, peer);
    std::erase_if(self->links, [](const std::weak_ptr<Link>& w) { return w.expired(); });
    self->links.push_back(link);
    std::weak_ptr<Link> weak = link;
    // A named handler: GCC 12 mishandles temporaries inside a co_await operand (double free).
    std::function<void(Bytes)> on_packet = [self, partner, weak](Bytes req) {
      self->handler(*partner, std::move(req), [weak](Bytes resp) {
        if (auto l = weak.lock()) l->send(std::move(resp));
      });
    };
    co_await link->read_loop(on_packet, partner->name);
    spdlog::info("radsec: partner {} disconnected", partner->name);
  }
};

RadsecServer::RadsecServer(asio::io_context& io, const RoamingConfig& cfg, Handler handler)
    : impl_(std::make_shared<Impl>(io, cfg, std::move(handler))) {}

RadsecServer::~RadsecServer() {
  stop();
}

void RadsecServer::start() {
  auto& m = *impl_;
  std::weak_ptr<Impl> weak = impl_;
  m.service = std::make_unique<TcpService>(m.io, "radsec", *m.cfg.radsec_listen,
                                           [weak](tcp::socket sock, std::uint64_t) -> asio::awaitable<void> {
                                             if (auto self = weak.lock())
                                               return Impl::session(self, std::move(sock));
                                             return nothing();
                                           });
  m.service->start();
  spdlog::info("roaming: RadSec (RFC 6614) for {} partner(s) on {}", m.cfg.partners.size(),
               local_endpoint().str());
}

void RadsecServer::stop() {
  auto& m = *impl_;
  if (m.stopping) return;
  m.stopping = true;
  if (m.service) m.service->stop();
  for (auto& w : m.links)
    if (auto l = w.lock()) l->close();
}

Endpoint RadsecServer::local_endpoint() const {
  return impl_->service ? impl_->service->local_endpoint() : Endpoint{};
}

// ---------------------------------------------------------------- client (visited side)

struct RadsecClient::Impl : std::enable_shared_from_this<RadsecClient::Impl> {
  asio::io_context& io;
  const RoamingConfig& cfg;
  const RoamingPartnerConfig& partner;
  Contexts contexts;
  std::shared_ptr<Link> link;
  std::chrono::steady_clock::time_point last_heard;  ///< the partner's last verified answer
  bool connecting = false;
  std::uint8_t next_id = 0;
  struct Pending {
    radius::Authenticator auth;
    asio::steady_timer* wake;
    std::optional<radius::Packet> reply;
  };
  std::map<std::uint8_t, Pending*> pending;
  Counter& timeouts;
  Counter& forged;

  Impl(asio::io_context& i, const RoamingConfig& c, const RoamingPartnerConfig& p)
      : io(i),
        cfg(c),
        partner(p),
        contexts(c, false),
        timeouts(counter("mobix_radsec_client_failures_total",
                         "RadSec requests to a partner that got no answer",
                         fmt::format("partner=\"{}\",reason=\"no_answer\"", p.name))),
        forged(counter("mobix_radsec_client_failures_total",
                       "RadSec requests to a partner that got no answer",
                       fmt::format("partner=\"{}\",reason=\"bad_authenticator\"", p.name))) {
    next_id = static_cast<std::uint8_t>(radius::random_authenticator()[0]);
  }

  void on_packet(Bytes raw) {
    if (raw.size() < radius::kHeaderSize) return;
    auto it = pending.find(raw[1]);
    if (it == pending.end()) return;  // late answer to a request that timed out
    auto* p = it->second;
    auto decoded = radius::decode(raw);
    if (!decoded || !radius::verify_response(raw, p->auth, radius::kRadsecSecret)) {
      forged.inc();
      spdlog::warn("radsec {}: answer with a bad authenticator ignored", partner.name);
      return;
    }
    p->reply = std::move(*decoded);
    last_heard = std::chrono::steady_clock::now();
    pending.erase(it);
    p->wake->cancel();
  }

  void fail_all() {
    for (auto& [id, p] : pending) p->wake->cancel();
    pending.clear();
  }

  // A static coroutine with by-value parameters, not a capturing lambda: a lambda's captures
  // live in the lambda object, which is gone once co_spawn returns.
  static asio::awaitable<void> reader(std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    std::function<void(Bytes)> on_packet = [self](Bytes raw) { self->on_packet(std::move(raw)); };
    co_await l->read_loop(on_packet, self->partner.name);
    if (self->link == l) self->fail_all();
  }

  asio::awaitable<bool> ensure_link(std::shared_ptr<Impl> self) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.timeout);
    while (connecting) {  // another request is opening the connection
      asio::steady_timer t(io, std::chrono::milliseconds(5));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      if (std::chrono::steady_clock::now() > deadline) co_return false;
    }
    if (link && !link->closed()) co_return true;
    connecting = true;
    struct Done {
      bool& flag;
      ~Done() { flag = false; }
    } done{connecting};
    tcp::socket sock(io);
    asio::steady_timer timer(io);
    timer.expires_after(std::chrono::seconds(cfg.timeout));
    tcp::endpoint ep(asio::ip::make_address(partner.server->host), partner.server->port);
    auto c = co_await (sock.async_connect(ep, asio::as_tuple(asio::use_awaitable)) ||
                       timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    if (c.index() == 1 || std::get<0>(std::get<0>(c))) {
      spdlog::warn("radsec {}: cannot connect to {}", partner.name, partner.server->str());
      co_return false;
    }
    boost::system::error_code ec;
    sock.set_option(tcp::no_delay(true), ec);
    auto l = std::make_shared<Link>(std::move(sock), contexts.current());
    if (!partner.certificate_name.empty()) {
      SSL_set_tlsext_host_name(l->stream().native_handle(), partner.certificate_name.c_str());
      l->stream().set_verify_callback(ssl::host_name_verification(partner.certificate_name));
    }
    timer.expires_after(std::chrono::seconds(cfg.timeout));
    auto hs = co_await (
        l->stream().async_handshake(ssl::stream_base::client, asio::as_tuple(asio::use_awaitable)) ||
        timer.async_wait(asio::as_tuple(asio::use_awaitable)));
    X509* cert = SSL_get1_peer_certificate(l->stream().native_handle());
    bool pinned = matches(cert, partner);
    X509_free(cert);
    if (hs.index() == 1 || std::get<0>(std::get<0>(hs)) || !pinned) {
      counter("mobix_radsec_refused_total", "RadSec connections refused, by reason", "reason=\"server_tls\"")
          .inc();
      spdlog::warn("radsec {}: TLS with {} failed: {}", partner.name, partner.server->str(),
                   hs.index() == 1 ? "timeout"
                   : std::get<0>(std::get<0>(hs))
                       ? std::get<0>(std::get<0>(hs)).message() + verify_detail(l->stream().native_handle())
                       : "certificate does not match the partner's pin");
      l->close();
      co_return false;
    }
    link = l;
    last_heard = std::chrono::steady_clock::now();
    spdlog::info("radsec {}: connected to {}", partner.name, partner.server->str());
    asio::co_spawn(io, reader(self, l), asio::detached);
    if (cfg.status_server_interval > 0) asio::co_spawn(io, watchdog(self, l), asio::detached);
    co_return true;
  }

  /// Sends `request` on the link (opened if needed) and waits for its verified answer.
  static asio::awaitable<std::optional<radius::Packet>> exchange(std::shared_ptr<Impl> self,
                                                                 radius::Packet request,
                                                                 std::string pap_password);

  /// RFC 5997 section 4 (and RFC 6614 2.6): a connection the partner has not answered on for
  /// status_server_interval seconds is probed with Status-Server; no answer within `timeout`, and
  /// the connection is closed (requests waiting on it fail now, the next one connects again)
  /// instead of hanging on a peer that stopped answering.
  static asio::awaitable<void> watchdog(std::shared_ptr<Impl> self, std::shared_ptr<Link> l) {
    const auto interval = std::chrono::seconds(self->cfg.status_server_interval);
    asio::steady_timer timer(self->io);
    for (;;) {
      timer.expires_after(interval);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (l->closed() || self->link != l) co_return;
      if (std::chrono::steady_clock::now() - self->last_heard < interval) continue;  // heard lately
      radius::Packet probe;
      probe.code = radius::Code::status_server;
      probe.add_message_authenticator();  // RFC 5997 section 3: required
      auto answer = co_await exchange(self, std::move(probe), {});
      if (l->closed() || self->link != l) co_return;
      if (answer && answer->code == radius::Code::access_accept) {
        self->watchdog_counter("alive").inc();
        continue;
      }
      self->watchdog_counter("dead").inc();
      spdlog::warn("radsec {}: no answer to Status-Server from {} within {} s; closing the connection",
                   self->partner.name, self->partner.server->str(), self->cfg.timeout);
      l->close();
      self->fail_all();
      co_return;
    }
  }

  Counter& watchdog_counter(const char* result) {
    return counter("mobix_radsec_watchdog_total",
                   "Status-Server probes of idle partner connections (RFC 5997)",
                   fmt::format("partner=\"{}\",result=\"{}\"", partner.name, result));
  }
};

RadsecClient::RadsecClient(asio::io_context& io, const RoamingConfig& cfg,
                           const RoamingPartnerConfig& partner)
    : impl_(std::make_shared<Impl>(io, cfg, partner)) {}

RadsecClient::~RadsecClient() {
  if (impl_->link) impl_->link->close();
  impl_->fail_all();
}

const RoamingPartnerConfig& RadsecClient::partner() const {
  return impl_->partner;
}

asio::awaitable<std::optional<radius::Packet>> RadsecClient::exchange(radius::Packet request,
                                                                      std::string pap_password) {
  auto self = impl_;
  // Named, not temporaries, across co_await (GCC 12).
  auto answer = co_await Impl::exchange(self, std::move(request), std::move(pap_password));
  co_return answer;
}

asio::awaitable<std::optional<radius::Packet>> RadsecClient::Impl::exchange(std::shared_ptr<Impl> self,
                                                                            radius::Packet request,
                                                                            std::string pap_password) {
  auto& m = *self;
  bool up = co_await m.ensure_link(self);
  if (!up) {
    m.timeouts.inc();
    co_return std::nullopt;
  }
  // RFC 6614 2.5: Identifiers are per connection; 256 may be outstanding.
  int tries = 0;
  while (m.pending.count(m.next_id) && tries++ < 256) ++m.next_id;
  if (m.pending.count(m.next_id)) {
    m.timeouts.inc();
    co_return std::nullopt;
  }
  request.identifier = m.next_id++;
  Bytes raw;
  if (request.code == radius::Code::access_request || request.code == radius::Code::status_server) {
    request.authenticator = radius::random_authenticator();
    if (!pap_password.empty())
      request.add(radius::attr::user_password,
                  radius::hide_password(pap_password, request.authenticator, radius::kRadsecSecret));
    if (!request.find(radius::attr::message_authenticator)) request.add_message_authenticator();
    raw = radius::encode_access_request(request, radius::kRadsecSecret);
  } else {
    raw = radius::encode_accounting_request(request, radius::kRadsecSecret);
  }
  asio::steady_timer wake(m.io);
  Impl::Pending p{{}, &wake, std::nullopt};
  std::copy(raw.begin() + 4, raw.begin() + 20, p.auth.begin());
  m.pending[request.identifier] = &p;
  wake.expires_after(std::chrono::seconds(m.cfg.timeout));
  m.link->send(std::move(raw));
  co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  if (auto it = m.pending.find(request.identifier); it != m.pending.end() && it->second == &p)
    m.pending.erase(it);
  if (!p.reply) m.timeouts.inc();
  co_return std::move(p.reply);
}

}  // namespace mobix::roaming
