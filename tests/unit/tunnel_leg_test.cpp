// The tunnel's legs (seed 001 steps G-I) in one process: client X -> relay (plain leg a, TLS leg b)
// -> gateway (TLS leg c, plain leg d) -> terminal Z, on loopback with a real TLS handshake. The
// relay and gateway halves run on an io_context thread; X and Z are blocking sockets driven here.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <atomic>
#include <csignal>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "net/conn.hpp"
#include "net/tunnel_leg.hpp"
#include "pki/pki.hpp"
#include "test_util.hpp"

using namespace mobix;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Chain {
  test::TempDir dir;
  std::shared_ptr<asio::ssl::context> server_tls, client_tls;
  asio::io_context io, side;
  tcp::socket x{side}, z{side};  // the client and the terminal (blocking, this thread)
  std::atomic<int> done{0};
  net::SpliceBytes relay_bytes, gateway_bytes;
  bool relay_zero_copy = false, gateway_zero_copy = false;
  std::string gateway_first;

  explicit Chain(bool passthrough) {
    std::signal(SIGPIPE, SIG_IGN);  // as `mobix` does: OpenSSL writes alerts to reset sockets
    auto ca = pki::CertificateAuthority::create(dir.file("ca"), "Leg CA");
    pki::CertRequest req;
    req.common_name = "relay";
    req.ip_addresses = {"127.0.0.1"};
    auto cert = ca.issue(req, dir.file("relay"));
    server_tls = net::make_server_tls_context(cert.cert_path, cert.key_path);
    client_tls = net::make_client_tls_context(ca.cert_path());
    const tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
    tcp::acceptor public_port(io, any), callback_port(io, any), service_port(io, any);
    x.connect(public_port.local_endpoint());
    tcp::socket xs = public_port.accept();
    tcp::socket yc(io);
    yc.connect(callback_port.local_endpoint());
    tcp::socket ys = callback_port.accept();
    tcp::socket zg(io);
    zg.connect(service_port.local_endpoint());
    z = tcp::socket(side, tcp::v4(), service_port.accept().release());
    for (auto* s : {&x, &z}) {  // a broken tunnel fails the test instead of hanging it
      timeval tv{5, 0};
      setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    asio::co_spawn(io, relay(this, std::move(xs), std::move(ys), passthrough), asio::detached);
    asio::co_spawn(io, gateway(this, std::move(yc), std::move(zg), passthrough), asio::detached);
  }

  static asio::awaitable<void> relay(Chain* c, tcp::socket xs, tcp::socket ys, bool passthrough) {
    net::Leg a(std::move(xs)), b(std::move(ys));
    std::string why, none;
    if (co_await b.accept_tls(c->server_tls->native_handle(), std::chrono::seconds(5), why)) {
      if (passthrough) {
        const std::string first = "FIRST-FLIGHT";
        co_await b.write_all(first, std::chrono::seconds(5));
        co_await b.leave_tls(none, 0, std::chrono::seconds(5));
      }
      c->relay_bytes = co_await net::splice(a, b, std::chrono::seconds(30), std::chrono::seconds(60));
    }
    ++c->done;
  }

  static asio::awaitable<void> gateway(Chain* c, tcp::socket yc, tcp::socket zg, bool passthrough) {
    net::Leg cl(std::move(yc)), d(std::move(zg));
    std::string why;
    if (co_await cl.connect_tls(c->client_tls->native_handle(), "127.0.0.1", std::chrono::seconds(5), why)) {
      if (passthrough) co_await cl.leave_tls(c->gateway_first, 1024, std::chrono::seconds(5));
      c->gateway_bytes = co_await net::splice(cl, d, std::chrono::seconds(30), std::chrono::seconds(60));
    }
    ++c->done;
  }

  static std::string read_to_eof(tcp::socket& s, boost::system::error_code& ec) {
    std::string out;
    asio::read(s, asio::dynamic_buffer(out), ec);
    return out;
  }
};

void run(Chain& c, const std::function<void()>& body) {
  std::thread t([&c] { c.io.run(); });
  body();
  t.join();
}

}  // namespace

TEST(TunnelLeg, HalfCloseCrossesTheTlsLegBothWays) {
  Chain c(false);
  run(c, [&c] {
    const std::string up(200000, 'u');
    asio::write(c.x, asio::buffer(up));
    c.x.shutdown(tcp::socket::shutdown_send);  // the client is done sending...
    boost::system::error_code ec;
    EXPECT_EQ(Chain::read_to_eof(c.z, ec), up);  // ...the terminal reads all of it, then EOF
    EXPECT_EQ(ec, asio::error::eof);
    const std::string down = "answer after EOF";  // and still answers: the other way stays open
    asio::write(c.z, asio::buffer(down));
    c.z.shutdown(tcp::socket::shutdown_send);
    EXPECT_EQ(Chain::read_to_eof(c.x, ec), down);
    EXPECT_EQ(ec, asio::error::eof);
  });
  EXPECT_EQ(c.done, 2);
  EXPECT_EQ(c.relay_bytes.a_to_b, 200000u);
  EXPECT_EQ(c.gateway_bytes.a_to_b, 200000u);  // relay leg -> terminal
  EXPECT_FALSE(c.relay_bytes.zero_copy);       // the leg kept its TLS
}

TEST(TunnelLeg, PassthroughLeavesTlsAndSplices) {
  Chain c(true);
  run(c, [&c] {
    const std::string up(300000, 'p');
    asio::write(c.x, asio::buffer(up));
    c.x.shutdown(tcp::socket::shutdown_send);
    boost::system::error_code ec;
    EXPECT_EQ(Chain::read_to_eof(c.z, ec), up);
    const std::string down(100000, 'd');
    asio::write(c.z, asio::buffer(down));
    c.z.shutdown(tcp::socket::shutdown_send);
    EXPECT_EQ(Chain::read_to_eof(c.x, ec), down);
  });
  EXPECT_EQ(c.gateway_first, "FIRST-FLIGHT");  // what crossed under TLS before leaving it
  EXPECT_TRUE(c.relay_bytes.zero_copy);
  EXPECT_TRUE(c.gateway_bytes.zero_copy);
  EXPECT_EQ(c.relay_bytes.b_to_a, 100000u);
}

TEST(TunnelLeg, ResetCrossesBothProxies) {
  for (bool passthrough : {false, true}) {
    Chain c(passthrough);
    run(c, [&c, passthrough] {
      const std::string hello = "hello";
      asio::write(c.x, asio::buffer(hello));
      char got[5];
      asio::read(c.z, asio::buffer(got));
      c.z.set_option(asio::socket_base::linger(true, 0));
      c.z.close();  // RST
      boost::system::error_code ec;
      Chain::read_to_eof(c.x, ec);
      EXPECT_EQ(ec, asio::error::connection_reset) << "passthrough " << passthrough << ": " << ec.message();
    });
    EXPECT_EQ(c.done, 2);
  }
}

namespace {
// x <-> a (relayed) b <-> z, both legs plain TCP: what net::splice does on its own.
struct PlainPair {
  asio::io_context io, side;
  tcp::socket x{side}, z{side}, a_sock{io}, b_sock{io};
  PlainPair() {
    const tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
    tcp::acceptor p1(io, any), p2(io, any);
    x.connect(p1.local_endpoint());
    a_sock = p1.accept();
    b_sock.connect(p2.local_endpoint());
    z = tcp::socket(side, tcp::v4(), p2.accept().release());
    for (auto* s : {&x, &z}) {
      timeval tv{5, 0};
      setsockopt(s->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }
};
}  // namespace

// A mail session whose access session ended: its handset leg is closed from outside, and the
// upstream leg must close too at once (not after the idle limit).
TEST(Splice, ALegClosedFromOutsideEndsBoth) {
  PlainPair p;
  net::SpliceBytes bytes;
  bool finished = false;
  net::Leg a(std::move(p.a_sock)), b(std::move(p.b_sock));
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        bytes = co_await net::splice(a, b, std::chrono::seconds(30), std::chrono::seconds(60));
        finished = true;
      },
      asio::detached);
  asio::steady_timer later(p.io, std::chrono::milliseconds(200));
  later.async_wait([&a](boost::system::error_code) { a.close(); });
  std::thread t([&p] { p.io.run(); });
  asio::write(p.x, asio::buffer(std::string("before")));
  char got[6];
  asio::read(p.z, asio::buffer(got));
  boost::system::error_code ec;
  std::string rest;
  asio::read(p.z, asio::dynamic_buffer(rest), ec);  // the upstream's side ends (SO_RCVTIMEO: 5 s)
  t.join();
  EXPECT_EQ(std::string(got, 6), "before");
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_TRUE(finished);
  EXPECT_TRUE(bytes.zero_copy);
  EXPECT_EQ(bytes.a_to_b, 6u);
  EXPECT_FALSE(bytes.timed_out);
}

// Nothing either way for `idle`: both legs close and the splice says it timed out.
TEST(Splice, IdleConnectionIsClosed) {
  PlainPair p;
  net::SpliceBytes bytes;
  net::Leg a(std::move(p.a_sock)), b(std::move(p.b_sock));
  asio::co_spawn(
      p.io,
      [&]() -> asio::awaitable<void> {
        bytes = co_await net::splice(a, b, std::chrono::seconds(1), std::chrono::seconds(60));
      },
      asio::detached);
  std::thread t([&p] { p.io.run(); });
  boost::system::error_code ec1, ec2;
  std::string r1, r2;
  asio::read(p.x, asio::dynamic_buffer(r1), ec1);
  asio::read(p.z, asio::dynamic_buffer(r2), ec2);
  t.join();
  EXPECT_TRUE(bytes.timed_out);
  EXPECT_TRUE(ec1 == asio::error::eof || ec1 == asio::error::connection_reset) << ec1.message();
  EXPECT_TRUE(ec2 == asio::error::eof || ec2 == asio::error::connection_reset) << ec2.message();
}
