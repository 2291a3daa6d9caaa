// The call listener's transports (RFC 3261 18): SIP over UDP and over TCP on the same address and
// port, and over TLS (26.2) on sip_tls_listen. Each TCP or TLS connection is framed by Content-Length
// (codec/sip/framing.hpp) and answered on the connection a request came in on; a connection idle longer than
// sip_tcp_idle_seconds, or one that takes longer than kMessageDeadline to finish a message it started, is
// closed.
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>

#include "codec/sip/framing.hpp"
#include "telephony/call_agent.hpp"

namespace mobix::telephony {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kMaxMessage = 65535;            // what one UDP datagram can carry
constexpr std::chrono::seconds kMessageDeadline{10};  // a started message completes within this
// Overload (RFC 6357 5.3: over TCP, flow control pushes back). While more than kUdpBacklog waits on
// the UDP socket (about 50 datagrams), or the call legs in progress reach 3/4 of max_calls, SIP
// connections are not read: new calls wait in their senders' TCP buffers and the calls in progress
// finish first. (A TCP client learns a call ended when its proxy answers the BYE; the legs behind it
// end later, over UDP, so without this a fast client fills max_calls and everyone gets 503.) A pause
// ends after kMaxPause whatever the load, so a UDP flood slows phones on TCP but cannot stop them.
constexpr int kUdpBacklog = 64 << 10;
constexpr std::chrono::milliseconds kPauseStep{5}, kMaxPause{500};
constexpr int kDrainBatch = 64;  // UDP datagrams taken at once (see receive_loop)

bool only_line_ends(const std::string& buf) {
  return buf.find_first_not_of("\r\n") == std::string::npos;
}

}  // namespace

void CallAgent::start() {
  const auto& at = *cfg_.sip_listen;
  boost::system::error_code ec;
  udp::endpoint local(asio::ip::make_address(at.host, ec), at.port);
  if (ec) throw_listen_error("mobility_manager.sip", at, ec);
  socket_.open(local.protocol(), ec);
  if (!ec) socket_.bind(local, ec);
  if (ec) throw_listen_error("mobility_manager.sip", at, ec);
  asio::co_spawn(io_, receive_loop(), asio::detached);
  // TCP on the port UDP got (the same number when sip_listen asks for an ephemeral one).
  stream_service_ = std::make_unique<TcpService>(
      io_, "mobility_manager.sip_tcp", local_endpoint(),
      [this](tcp::socket s, std::uint64_t) { return serve_stream(std::move(s), false); });
  stream_service_->start();
  spdlog::info("mobility_manager: secure calls (SIP over UDP and TCP) on {}", local_endpoint().str());
  if (!cfg_.sip_tls_listen) return;
  tls_ = net::make_server_tls_context(cfg_.sip_tls_cert, cfg_.sip_tls_key);
  tls_service_ = std::make_unique<TcpService>(
      io_, "mobility_manager.sip_tls", *cfg_.sip_tls_listen,
      [this](tcp::socket s, std::uint64_t) { return serve_stream(std::move(s), true); });
  tls_service_->start();
  spdlog::info("mobility_manager: SIP over TLS on {}", tls_service_->local_endpoint().str());
}

void CallAgent::stop() {
  stopping_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
  if (stream_service_) stream_service_->stop();
  if (tls_service_) tls_service_->stop();
  for (auto& weak : streams_)
    if (auto s = weak.lock()) s->close();
  for (auto& [key, c] : calls_) {
    c->hung_up = true;
    c->wake.cancel();
  }
}

bool CallAgent::drained() const {
  return calls_.empty() && (!stream_service_ || stream_service_->drained()) &&
         (!tls_service_ || tls_service_->drained());
}

Endpoint CallAgent::local_endpoint() const {
  boost::system::error_code ec;
  auto e = socket_.local_endpoint(ec);
  return Endpoint{e.address().to_string(), e.port()};
}

void CallAgent::send(const std::string& text, const SipPeer& to) {
  boost::system::error_code ec;
  if (to.stream) {
    if (!to.stream->send(text)) ec = asio::error::not_connected;
  } else {
    socket_.send_to(asio::buffer(text), to.address, 0, ec);
  }
  if (ec && log_limit_.allow("send") >= 0)
    spdlog::warn("mobility_manager: SIP to {} over {} not sent: {}", to.host(), to.transport(), ec.message());
}

asio::awaitable<void> CallAgent::receive_loop() {
  std::string buf(kMaxMessage, '\0');
  for (;;) {
    udp::endpoint from;
    auto [ec, n] =
        co_await socket_.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !socket_.is_open()) co_return;
    if (ec) continue;
    on_message(std::string_view(buf).substr(0, n), SipPeer{from, nullptr});  // parse() copies it once
    // Then what else is queued, up to kDrainBatch, before other work gets a turn: signalling goes
    // ahead of media and of TCP reads, so a burst is taken before the kernel's buffer drops it.
    for (int i = 0; i < kDrainBatch && socket_.is_open(); ++i) {
      boost::system::error_code queued;
      if (socket_.available(queued) == 0 || queued) break;  // FIONREAD: the next datagram's size
      n = socket_.receive_from(asio::buffer(buf), from, 0, queued);
      if (queued) break;
      on_message(std::string_view(buf).substr(0, n), SipPeer{from, nullptr});
    }
  }
}

const char* CallAgent::overload() const {
  if (calls_.size() * 4 >= cfg_.max_calls * 3ULL) return "call legs near max_calls";
  std::uint32_t mem[SK_MEMINFO_VARS] = {};
  socklen_t len = sizeof mem;
  if (getsockopt(const_cast<udp::socket&>(socket_).native_handle(), SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
      mem[SK_MEMINFO_RMEM_ALLOC] > static_cast<std::uint32_t>(kUdpBacklog))
    return "the UDP signalling queue is behind";
  return nullptr;
}

asio::awaitable<void> CallAgent::hold_while_overloaded(SipStream& s) {
  auto why = overload();
  if (!why) co_return;
  count("mobix_mm_sip_connections_total", "held_back");
  if (log_limit_.allow("tcp_held_back") >= 0)
    spdlog::warn("mobility_manager: SIP connections held back: {} (overload)", why);
  asio::steady_timer wait(io_);
  for (auto held = std::chrono::milliseconds(0); held < kMaxPause && s.is_open() && !stopping_;
       held += kPauseStep) {
    wait.expires_after(kPauseStep);
    co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!overload()) break;
  }
}

void CallAgent::close_stream(SipStream& s, const SipPeer& peer, const char* outcome,
                             const std::string& detail) {
  count("mobix_mm_sip_connections_total", outcome);
  if (log_limit_.allow(std::string("tcp_") + outcome) >= 0)
    spdlog::info("mobility_manager: SIP connection from {}:{} closed: {} ({})", peer.host(),
                 peer.address.port(), outcome, detail);
  s.close();
}

asio::awaitable<void> CallAgent::serve_stream(tcp::socket socket, bool tls) {
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  auto stream = std::make_shared<SipStream>(std::move(socket));
  SipPeer peer{udp::endpoint(remote.address(), remote.port()), stream};
  auto listed = streams_.insert(streams_.end(), stream);
  struct Unlist {  // however the coroutine ends
    std::list<std::weak_ptr<SipStream>>& list;
    std::list<std::weak_ptr<SipStream>>::iterator at;
    ~Unlist() { list.erase(at); }
  } unlist{streams_, listed};
  count("mobix_mm_sip_connections_total", "accepted");
  if (tls) {  // the handshake within the deadline of a message (a stranger cannot hold it open)
    auto handshake = co_await stream->conn().accept_tls(*tls_, kMessageDeadline);
    if (handshake) {
      close_stream(*stream, peer, "tls_failed", handshake.message());
      co_return;
    }
  }
  std::string buf;
  std::array<char, 4096> chunk;
  while (stream->is_open() && !stopping_) {
    auto frame = sip::next_frame(buf, kMaxMessage);
    switch (frame.status) {
      case sip::FrameStatus::message:
        on_message(std::string_view(buf).substr(0, frame.length), peer);
        buf.erase(0, frame.length);
        continue;
      case sip::FrameStatus::ping:  // RFC 5626 3.5.1: the pong
        stream->send("\r\n");
        buf.erase(0, frame.length);
        continue;
      case sip::FrameStatus::skip:
        buf.erase(0, frame.length);
        continue;
      case sip::FrameStatus::too_large:
      case sip::FrameStatus::bad_length:
        count("mobix_mm_sip_requests_total", "malformed");
        close_stream(*stream, peer, "unframed", sip::to_string(frame.status));
        co_return;
      case sip::FrameStatus::incomplete:
        break;
    }
    co_await hold_while_overloaded(*stream);
    bool idle = only_line_ends(buf);
    auto [rec, n] = co_await stream->conn().read_some(
        asio::buffer(chunk), idle ? std::chrono::seconds(cfg_.sip_tcp_idle_seconds) : kMessageDeadline);
    if (!rec) {
      buf.append(chunk.data(), n);
      continue;
    }
    if (rec == boost::beast::error::timeout)
      close_stream(*stream, peer, idle ? "idle" : "incomplete",
                   idle ? "nothing sent for " + std::to_string(cfg_.sip_tcp_idle_seconds) + " s"
                        : std::to_string(buf.size()) + " octets of a message in " +
                              std::to_string(kMessageDeadline.count()) + " s");
    else
      stream->close();  // the other side closed it
  }
  stream->close();
}

}  // namespace mobix::telephony
