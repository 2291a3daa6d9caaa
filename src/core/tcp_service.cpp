#include "core/tcp_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
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

struct TcpService::Impl : std::enable_shared_from_this<TcpService::Impl> {
  asio::io_context& io;
  std::string name;
  Endpoint listen;
  Handler handler;
  tcp::acceptor acceptor;
  Gate gate;
  std::uint64_t next_id = 1;

  Impl(asio::io_context& io_, std::string n, Endpoint l, Handler h)
      : io(io_), name(std::move(n)), listen(std::move(l)), handler(std::move(h)), acceptor(io_) {}

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
      auto pass = std::make_shared<Gate::Pass>(gate.enter());
      if (!*pass) co_return;
      accepted.inc();
      auto id = next_id++;
      asio::co_spawn(io, handler(std::move(sock), id), [self, pass, id](std::exception_ptr e) {
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

TcpService::TcpService(asio::io_context& io, std::string name, Endpoint listen, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(name), std::move(listen), std::move(handler))) {}

TcpService::~TcpService() = default;

void TcpService::start() {
  tcp::endpoint ep(asio::ip::make_address(impl_->listen.host), impl_->listen.port);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
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
