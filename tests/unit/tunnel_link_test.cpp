// The multiplexed link (net/tunnel_link.hpp) in one process: a relay end and a gateway end over a
// loopback TCP connection (plain: the TLS below is Leg's and tested in tunnel_leg_test), a client
// X and a terminal Z as blocking sockets driven by the test thread.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>
#include <cerrno>
#include <csignal>
#include <future>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "net/tunnel_link.hpp"

using namespace mobix;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct LinkPair {
  asio::io_context io, side;
  std::shared_ptr<net::TunnelLink> relay, gateway;
  tcp::acceptor service{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::acceptor public_port{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};  // io runs to the end
  std::thread runner;
  std::vector<std::string> signals_seen;  ///< at the gateway (io thread)

  LinkPair() {
    std::signal(SIGPIPE, SIG_IGN);
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket g(io);
    g.connect(a.local_endpoint());
    tcp::socket r = a.accept();
    relay = std::make_shared<net::TunnelLink>(std::make_shared<net::Leg>(std::move(r)),
                                              net::TunnelLink::Side::relay, net::LinkOptions{});
    gateway = std::make_shared<net::TunnelLink>(std::make_shared<net::Leg>(std::move(g)),
                                                net::TunnelLink::Side::gateway, net::LinkOptions{});
    // The gateway's terminal: "refuse:1" is refused, anything else connected to `service`.
    gateway->on_open([this](std::shared_ptr<net::LinkStream> s) {
      if (s->protocol() == "signal") {  // "00": taken, anything else refused
        signals_seen.push_back(s->signal());
        return s->signal() == "00" ? s->acknowledge() : s->refuse("bad_signal");
      }
      if (s->authority() == "refuse:1") return s->refuse("unreachable");
      tcp::socket t(io);
      t.connect(service.local_endpoint());
      s->accept(std::move(t));
    });
    EXPECT_TRUE(gateway->start());
    EXPECT_TRUE(relay->start());
    runner = std::thread([this] { io.run(); });
  }
  ~LinkPair() {
    asio::post(io, [this] {
      relay->close("test over");
      gateway->close("test over");
      service.close();
      public_port.close();
    });
    work.reset();
    runner.join();
  }
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(f);
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }
  // Opens a stream and waits (polling from this thread) until the gateway answered it.
  std::shared_ptr<net::LinkStream> open(const std::string& authority, const std::string& early) {
    auto s = on_io([&] { return relay->open(authority, "tcp", early); });
    for (int i = 0; i < 500 && on_io([&] { return s->state(); }) == net::LinkStream::State::opening; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return s;
  }
  // A connected client socket X (this thread) whose other end the relay stream takes.
  tcp::socket attach_client(const std::shared_ptr<net::LinkStream>& s) {
    tcp::socket x(side);
    x.connect(public_port.local_endpoint());
    on_io([&] {
      s->attach(public_port.accept());
      return 0;
    });
    return x;
  }
  tcp::socket accept_terminal() {
    tcp::socket z(side, tcp::v4(), on_io([&] { return service.accept().release(); }));
    return z;
  }
};

void with_timeout(tcp::socket& s) {
  timeval tv{5, 0};  // a broken link fails the test instead of hanging it
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

std::string read_to_eof(tcp::socket& s) {
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = ::recv(s.native_handle(), buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST(TunnelLink, ARefusalReachesTheRelayWithItsReason) {
  LinkPair p;
  auto s = p.open("refuse:1", "early bytes");
  ASSERT_TRUE(s);
  EXPECT_EQ(p.on_io([&] { return s->state(); }), net::LinkStream::State::refused);
  EXPECT_EQ(p.on_io([&] { return s->reason(); }), "unreachable");
  EXPECT_TRUE(p.on_io([&] { return p.relay->usable(); })) << "a refused stream leaves the link up";
}

TEST(TunnelLink, ASignalRequestIsAnsweredAndForgottenByBothEnds) {
  LinkPair p;
  for (const std::string hex : {"00", "ff"}) {
    auto s = p.on_io([&] { return p.relay->signal(hex); });
    ASSERT_TRUE(s);
    for (int i = 0; i < 500 && p.on_io([&] { return s->state(); }) != net::LinkStream::State::closed &&
                    p.on_io([&] { return s->state(); }) != net::LinkStream::State::refused;
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(p.on_io([&] { return s->answered(); }), hex == "00") << hex;
    EXPECT_EQ(p.on_io([&] { return s->reason(); }), hex == "00" ? "" : "bad_signal") << hex;
    // Neither end keeps a stream that carried no tunnel.
    for (int i = 0; i < 500 && p.on_io([&] { return p.relay->streams() + p.gateway->streams(); }) > 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(p.on_io([&] { return p.relay->streams(); }), 0u) << hex;
    EXPECT_EQ(p.on_io([&] { return p.gateway->streams(); }), 0u) << hex;
  }
  EXPECT_EQ(p.on_io([&] { return p.signals_seen; }), (std::vector<std::string>{"00", "ff"}));
  EXPECT_TRUE(p.on_io([&] { return p.relay->usable(); }));
}

TEST(TunnelLink, BytesCrossBothWaysWithHalfCloses) {
  LinkPair p;
  auto s = p.open("31600000001:80", "EARLY ");
  ASSERT_EQ(p.on_io([&] { return s->state(); }), net::LinkStream::State::open);
  auto z = p.accept_terminal();
  auto x = p.attach_client(s);
  with_timeout(x);
  with_timeout(z);
  asio::write(x, asio::buffer(std::string("hello")));
  x.shutdown(tcp::socket::shutdown_send);  // the client's FIN: END_STREAM, then the terminal's EOF
  EXPECT_EQ(read_to_eof(z), "EARLY hello");
  std::string big(3 << 20, 'z');
  for (std::size_t i = 0; i < big.size(); i += 4099) big[i] = static_cast<char>(i);
  asio::write(z, asio::buffer(big));  // more than every window: the terminal waits for the client
  z.shutdown(tcp::socket::shutdown_send);
  EXPECT_EQ(read_to_eof(x), big);
  for (int i = 0; i < 200 && p.on_io([&] { return s->state(); }) != net::LinkStream::State::closed; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(p.on_io([&] { return s->state(); }), net::LinkStream::State::closed);
  EXPECT_FALSE(p.on_io([&] { return s->bytes().reset; })) << "two clean half-closes are no reset";
  EXPECT_EQ(p.on_io([&] { return p.relay->streams(); }), 0u);
}

TEST(TunnelLink, ATerminalResetResetsTheClient) {
  LinkPair p;
  auto s = p.open("31600000001:80", "");
  auto z = p.accept_terminal();
  auto x = p.attach_client(s);
  with_timeout(x);
  asio::write(z, asio::buffer(std::string("bye")));
  z.set_option(asio::socket_base::linger(true, 0));
  z.close();  // RST
  char buf[16];
  std::string got;
  ssize_t n;
  while ((n = ::recv(x.native_handle(), buf, sizeof buf, 0)) > 0)
    got.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ECONNRESET) << "got " << got;
}

TEST(TunnelLink, LosingTheLinkResetsItsTunnelsAndIsReported) {
  LinkPair p;
  std::promise<std::string> closed;
  p.on_io([&] {
    p.relay->on_closed([&closed](const char* why) { closed.set_value(why); });
    return 0;
  });
  auto s = p.open("31600000001:80", "");
  auto z = p.accept_terminal();
  auto x = p.attach_client(s);
  with_timeout(x);
  p.on_io([&] {
    p.gateway->close("gateway gone");
    return 0;
  });
  char buf[16];
  EXPECT_EQ(::recv(x.native_handle(), buf, sizeof buf, 0), -1);
  EXPECT_EQ(errno, ECONNRESET);
  EXPECT_EQ(closed.get_future().get(), "closed by the peer");
  EXPECT_FALSE(p.on_io([&] { return p.relay->usable(); }));
}
