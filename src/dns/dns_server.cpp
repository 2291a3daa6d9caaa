#include "dns/dns_server.hpp"

#include <sys/socket.h>

#include <array>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "codec/dns/responder.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/net.hpp"
#include "core/tcp_service.hpp"

namespace mobix::dns {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

namespace {

struct Counters {
  std::array<Counter*, 6> by_rcode{};
  Counter* dropped;
  Counter& tcp_timeout =
      metrics().counter("mobix_dns_tcp_timeouts_total",
                        "DNS over TCP connections closed: a message or an answer took over 5 s");
  Counters() {
    static const char* names[] = {"noerror", "formerr", "servfail", "nxdomain", "notimp", "refused"};
    for (int i = 0; i < 6; ++i)
      by_rcode[i] = &metrics().counter("mobix_dns_responses_total", "DNS responses sent, by RCODE",
                                       fmt::format("rcode=\"{}\"", names[i]));
    dropped = &metrics().counter("mobix_dns_dropped_total",
                                 "DNS messages dropped unanswered (responses, fragments under 12 octets)");
  }
  LogRateLimiter timeout_log{2};
  void timed_out(const char* what) {
    tcp_timeout.inc();
    if (auto suppressed = timeout_log.allow(what); suppressed >= 0)
      spdlog::info("dns: a TCP client sent no complete {} in 5 s: closed{}", what,
                   suppressed ? fmt::format(" ({} similar suppressed)", suppressed) : std::string());
  }
  void count(int rcode) {
    if (rcode < 0)
      dropped->inc();
    else if (rcode < 6)
      by_rcode[rcode]->inc();
  }
};

}  // namespace

struct DnsServer::Impl {
  Endpoint listen;
  unsigned threads;
  const ZoneSet& zones;
  asio::io_context io;
  std::vector<std::unique_ptr<udp::socket>> udp_sockets;
  std::unique_ptr<TcpService> tcp_service;
  std::vector<std::thread> workers;
  Counters counters;
  Endpoint bound;

  Impl(Endpoint l, unsigned t, const ZoneSet& z) : listen(std::move(l)), threads(t ? t : 1), zones(z) {}

  asio::awaitable<void> udp_loop(udp::socket& sock) {
    Responder responder(zones);
    std::array<std::uint8_t, 65536> buf;
    udp::endpoint from;
    for (;;) {
      auto [ec, n] =
          co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !sock.is_open()) co_return;
      if (ec) continue;
      int rcode = -1;
      auto out = responder.respond(std::span(buf.data(), n), false, rcode);
      counters.count(rcode);
      if (out.empty()) continue;
      boost::system::error_code send_ec;
      sock.send_to(asio::buffer(out), from, 0, send_ec);  // UDP send does not block in practice
    }
  }

  // RFC 7766: two-octet length prefix, several queries per connection, idle timeout.
  asio::awaitable<void> tcp_session(tcp::socket sock, std::uint64_t) {
    using namespace asio::experimental::awaitable_operators;
    Responder responder(zones, 64);
    std::vector<std::uint8_t> msg;
    asio::steady_timer idle(sock.get_executor());
    for (;;) {
      std::array<std::uint8_t, 2> len_buf;
      idle.expires_after(std::chrono::seconds(10));
      auto got =
          co_await (asio::async_read(sock, asio::buffer(len_buf), asio::as_tuple(asio::use_awaitable)) ||
                    idle.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (got.index() == 1 || std::get<0>(std::get<0>(got))) co_return;
      // The message and the answer have their own deadline: a length prefix without a body (or a
      // client that does not read) must not hold the connection (issue 12 item 4). The buffer
      // grows with what arrives, not with what the prefix announces.
      const std::size_t want = (std::size_t{len_buf[0]} << 8) | len_buf[1];
      msg.clear();
      idle.expires_after(std::chrono::seconds(5));
      while (msg.size() < want) {
        const std::size_t have = msg.size();
        msg.resize(std::min(want, have + 4096));
        auto part = co_await (sock.async_read_some(asio::buffer(msg.data() + have, msg.size() - have),
                                                   asio::as_tuple(asio::use_awaitable)) ||
                              idle.async_wait(asio::as_tuple(asio::use_awaitable)));
        if (part.index() == 1 || std::get<0>(std::get<0>(part))) {
          if (part.index() == 1) counters.timed_out("message");
          co_return;
        }
        msg.resize(have + std::get<1>(std::get<0>(part)));
      }
      int rcode = -1;
      auto out = responder.respond(msg, true, rcode);
      counters.count(rcode);
      if (out.empty()) co_return;  // not a query: the stream cannot be trusted any more
      std::array<std::uint8_t, 2> out_len{static_cast<std::uint8_t>(out.size() >> 8),
                                          static_cast<std::uint8_t>(out.size())};
      std::array<asio::const_buffer, 2> bufs{asio::buffer(out_len), asio::buffer(out)};
      idle.expires_after(std::chrono::seconds(5));
      auto sent = co_await (asio::async_write(sock, bufs, asio::as_tuple(asio::use_awaitable)) ||
                            idle.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (sent.index() == 1 || std::get<0>(std::get<0>(sent))) {
        if (sent.index() == 1) counters.timed_out("read of its answer");
        co_return;
      }
    }
  }
};

DnsServer::DnsServer(Endpoint listen, unsigned threads, const ZoneSet& zones)
    : impl_(std::make_unique<Impl>(std::move(listen), threads, zones)) {}

DnsServer::~DnsServer() {
  stop();
}

void DnsServer::start() {
  auto& m = *impl_;
  // With port 0 the UDP port is chosen first; its TCP twin may be taken, so try another (a few times).
  for (int attempt = 0;; ++attempt) {
    udp::endpoint ep(asio::ip::make_address(m.listen.host), m.listen.port);
    m.udp_sockets.clear();
    for (unsigned i = 0; i < m.threads; ++i) {
      auto s = std::make_unique<udp::socket>(m.io);
      s->open(ep.protocol());
      int one = 1;
      ::setsockopt(s->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      s->set_option(asio::socket_base::receive_buffer_size(4 << 20));
      boost::system::error_code ec;
      s->bind(ep, ec);
      if (ec) throw_listen_error("dns (udp)", Endpoint{ep.address().to_string(), ep.port()}, ec);
      ep.port(s->local_endpoint().port());  // port 0: the others share the first one's port
      m.udp_sockets.push_back(std::move(s));
    }
    m.bound = Endpoint{ep.address().to_string(), ep.port()};
    m.tcp_service = std::make_unique<TcpService>(m.io, "dns", m.bound, [&m](tcp::socket s, std::uint64_t id) {
      return m.tcp_session(std::move(s), id);
    });
    try {
      m.tcp_service->start();
      break;
    } catch (const std::exception&) {
      if (m.listen.port != 0 || attempt >= 10) throw;
    }
  }
  for (auto& s : m.udp_sockets) asio::co_spawn(m.io, m.udp_loop(*s), asio::detached);
  for (unsigned i = 0; i < m.threads; ++i) m.workers.emplace_back([&m] { m.io.run(); });
  spdlog::info("dns: authoritative server on {} (udp x{}, tcp)", m.bound.str(), m.threads);
}

void DnsServer::stop() {
  auto& m = *impl_;
  if (m.workers.empty()) return;
  m.io.stop();
  for (auto& t : m.workers) t.join();
  m.workers.clear();
}

Endpoint DnsServer::local_endpoint() const {
  return impl_->bound;
}

}  // namespace mobix::dns
