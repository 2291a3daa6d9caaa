#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "net/tunnel_link.hpp"

// libFuzzer target for the multiplexed link (src/net/tunnel_link.cpp): whatever the other end of
// the link sends, as HTTP/2 frames after its preface, reaches nghttp2 and this project's callbacks
// (streams opened, answered, refused, data for sockets, resets, GOAWAY, PING). The first byte
// chooses the side: odd, the relay (its stream open); even, the gateway (streams are answered, one
// from a terminal that sends a greeting, or refused). Runs over socket pairs on one io_context.
namespace {

using namespace mobix;
namespace asio = boost::asio;
using asio::ip::tcp;

tcp::socket wrap(asio::io_context& io, int fd) {
  tcp::socket s(io);
  s.assign(tcp::v4(), fd);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool relay = data[0] & 1;
  asio::io_context io;
  int link_fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, link_fds) != 0) return 0;
  std::vector<int> peers{link_fds[1]};
  auto leg = std::make_shared<net::Leg>(wrap(io, link_fds[0]));
  net::LinkOptions o;
  o.stream_window = 4096;
  o.max_streams = 4;
  auto link = std::make_shared<net::TunnelLink>(
      leg, relay ? net::TunnelLink::Side::relay : net::TunnelLink::Side::gateway, o);
  link->on_open([&io, &peers](std::shared_ptr<net::LinkStream> s) {
    if (s->authority().size() % 2) return s->refuse("unreachable");
    int t[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t) != 0) return s->refuse("unreachable");
    peers.push_back(t[1]);
    (void)!::write(t[1], "greeting", 8);
    s->accept(wrap(io, t[0]));
  });
  link->start();
  std::shared_ptr<net::LinkStream> opened;
  if (relay) opened = link->open("31600000001:80", "tcp", "early bytes");
  std::string in;
  if (!relay) in = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";  // the relay's preface, then the fuzzed frames
  in.append(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)!::write(link_fds[1], in.data(), in.size());
  char sink[65536];
  for (int i = 0; i < 16; ++i) {
    io.poll();
    io.restart();
    while (::read(link_fds[1], sink, sizeof sink) > 0) {
    }
  }
  if (opened && opened->state() == net::LinkStream::State::open) {
    int c[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, c) == 0) {
      peers.push_back(c[1]);
      (void)!::write(c[1], "client", 6);
      opened->attach(wrap(io, c[0]));
      io.poll();
      io.restart();
    }
  }
  link->close("fuzz input over");
  io.poll();
  for (int fd : peers) ::close(fd);
  return 0;
}
