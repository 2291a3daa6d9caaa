#include "core/tcp_service.hpp"

#include <algorithm>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include "core/heap_trim.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/runtime.hpp"

namespace mobix {

namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<void> AcceptBackoff::after_error(const boost::system::error_code& ec) {
  metrics()
      .counter("mobix_accept_errors_total", "Failed accepts (e.g. out of descriptors), by service",
               "service=\"" + service_ + "\"")
      .inc();
  delay_ = std::clamp(delay_ * 2, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
  auto now = std::chrono::steady_clock::now();
  if (now - last_log_ >= std::chrono::seconds(1)) {
    last_log_ = now;
    spdlog::warn("{}: accept failed: {}; accepting again in {} ms", service_, ec.message(), delay_.count());
  }
  asio::steady_timer t(co_await asio::this_coro::executor, delay_);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

ConnectionLimits& default_connection_limits() {
  static ConnectionLimits limits;
  return limits;
}

struct TcpService::Impl : std::enable_shared_from_this<TcpService::Impl> {
  asio::io_context& io;
  std::string name;
  Endpoint listen;
  SlotHandler handler;
  ConnectionLimits limits;
  tcp::acceptor acceptor;
  Gate gate;
  std::uint64_t next_id = 1;
  /// Open connections per client address; an entry lives only while its address has one, so the
  /// map holds at most `limits.per_listener` entries. Touched only on the io thread.
  std::unordered_map<std::string, std::uint32_t> per_address;
  LogRateLimiter refusal_log{2};

  Impl(asio::io_context& io_, std::string n, Endpoint l, SlotHandler h, ConnectionLimits lim)
      : io(io_),
        name(std::move(n)),
        listen(std::move(l)),
        handler(std::move(h)),
        limits(lim),
        acceptor(io_) {}

  // The address's slot when both caps allow one more connection; nullopt (counted, logged) otherwise.
  std::optional<std::string> admit(const tcp::socket& sock) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) return std::nullopt;
    auto addr = peer.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    auto key = addr.to_string();
    const char* reason = nullptr;
    if (gate.active() >= limits.per_listener)
      reason = "listener_full";
    else if (auto it = per_address.find(key); it != per_address.end() && it->second >= limits.per_address)
      reason = "address_full";
    if (!reason) {
      ++per_address[key];
      return key;
    }
    metrics()
        .counter("mobix_tcp_refused_total", "TCP connections closed at once: a connection cap was reached",
                 "service=\"" + name + "\",reason=\"" + reason + "\"")
        .inc();
    if (auto suppressed = refusal_log.allow(reason); suppressed >= 0)
      spdlog::warn("{}: connection from {} refused: {} ({} similar suppressed)", name, key, reason,
                   suppressed);
    return std::nullopt;
  }

  void release(const std::string& key) {
    auto it = per_address.find(key);
    if (it != per_address.end() && --it->second == 0) per_address.erase(it);
  }

  // One connection's slot: its address's count and its gate pass, given back together.
  struct Held {
    std::shared_ptr<Impl> svc;  // first: outlives `pass`, whose gate it owns
    Gate::Pass pass;
    std::string key;
    Held(std::shared_ptr<Impl> s, Gate::Pass p, std::string k)
        : svc(std::move(s)), pass(std::move(p)), key(std::move(k)) {}
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;
    ~Held() {
      svc->release(key);
      heap_trim().closed();
    }
  };

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    auto& accepted = metrics().counter("mobix_tcp_connections_total", "TCP connections accepted, by service",
                                       "service=\"" + name + "\"");
    AcceptBackoff backoff(name);
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (!acceptor.is_open()) co_return;
      if (ec) {
        co_await backoff.after_error(ec);
        continue;
      }
      backoff.reset();
      auto slot = admit(sock);
      if (!slot) {
        boost::system::error_code ignore;
        sock.close(ignore);
        continue;
      }
      auto pass = gate.enter();
      if (!pass) co_return;
      accepted.inc();
      heap_trim().opened();
      auto id = next_id++;
      auto held = std::make_shared<Held>(self, std::move(pass), std::move(*slot));
      asio::co_spawn(io, handler(std::move(sock), id, held), [self, held, id](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          metrics()
              .counter("mobix_tcp_connection_errors_total",
                       "TCP connections ended by an internal error, by service",
                       "service=\"" + self->name + "\"")
              .inc();
          spdlog::error("{} #{}: connection error: {}", self->name, id, ex.what());
        }
      });
    }
  }
};

TcpService::TcpService(asio::io_context& io, std::string name, Endpoint listen, SlotHandler handler,
                       std::optional<ConnectionLimits> limits)
    : impl_(std::make_shared<Impl>(io, std::move(name), std::move(listen), std::move(handler),
                                   limits.value_or(default_connection_limits()))) {}

TcpService::TcpService(asio::io_context& io, std::string name, Endpoint listen, Handler handler,
                       std::optional<ConnectionLimits> limits)
    : TcpService(io, std::move(name), std::move(listen),
                 SlotHandler([h = std::move(handler)](tcp::socket s, std::uint64_t id, Slot) {
                   return h(std::move(s), id);  // the slot is held until the coroutine ends
                 }),
                 limits) {}

TcpService::~TcpService() = default;

void TcpService::start() {
  tcp::endpoint ep(asio::ip::make_address(impl_->listen.host), impl_->listen.port);
  boost::system::error_code ec;
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw_listen_error(impl_->name, impl_->listen, ec);
  asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached);
  spdlog::info("{}: listening on {}", impl_->name, local_endpoint().str());
}

void TcpService::stop() {
  impl_->gate.close();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

bool TcpService::stopping() const {
  return impl_->gate.closed();
}

bool TcpService::drained() const {
  return impl_->gate.active() == 0;
}

Endpoint TcpService::local_endpoint() const {
  auto e = impl_->acceptor.local_endpoint();
  return Endpoint{e.address().to_string(), e.port()};
}

}  // namespace mobix
