#pragma once
// A multiplexed tunnel link (issue 17 item 1): one long-lived TLS connection between the gateway
// and the relay carrying many tunnels as HTTP/2 streams (RFC 9113, libnghttp2).
//
// After TLS and the link's hello (codec/leg/leg.hpp), the relay is the HTTP/2 client — it opens
// the streams — and the gateway the server, although the gateway dialled the connection. A tunnel
// is a CONNECT request (RFC 9113 8.5): `:authority` names the terminal as "<msisdn>:<port>" and
// `mobix-protocol` the tunnel protocol; the gateway answers 200 once it reached the terminal, or
// 502 with `mobix-reason`. The client's first bytes go with the request (no round trip waits on
// them). Then DATA both ways; END_STREAM is a half-close (a FIN), RST_STREAM a reset.
//
// Per-stream flow control: received bytes are acknowledged (WINDOW_UPDATE) only once written to
// the stream's socket, so a slow reader holds back only its own tunnel and the other end never
// has more than the window in flight. A socket is read only while its stream may send, straight
// into the frame being built; an idle stream holds its socket, one readiness wait and no buffer.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "net/tunnel_leg.hpp"

struct nghttp2_session;

namespace mobix::net {

class TunnelLink;

/// One tunnel on a link.
class LinkStream : public std::enable_shared_from_this<LinkStream> {
 public:
  enum class State {
    opening,  ///< asked (relay) or being connected (gateway)
    open,     ///< the gateway reached the terminal: bytes flow
    refused,  ///< the gateway could not reach the terminal (`reason()`)
    closed,   ///< ended (both ways done, reset, timed out, or the link went)
  };
  struct Bytes {
    std::uint64_t to_socket = 0, from_socket = 0;
    bool reset = false;      ///< ended by a reset or the link's loss, not by two clean half-closes
    bool timed_out = false;  ///< ended by the idle or total deadline
  };
  LinkStream(const boost::asio::any_io_executor& ex, std::string authority, std::string protocol);
  ~LinkStream();

  State state() const { return state_; }
  const std::string& authority() const { return authority_; }
  const std::string& protocol() const { return protocol_; }
  const std::string& reason() const { return reason_; }
  /// Gateway: a signal request's sealed signal (hex, `mobix-signal`); empty for a tunnel.
  const std::string& signal() const { return signal_; }
  /// Relay: the gateway answered 200 (a tunnel opened, or a signal was taken).
  bool answered() const { return answered_; }
  const Bytes& bytes() const { return bytes_; }
  /// Cancelled (woken) whenever the state changes; waits on it end with operation_aborted.
  boost::asio::steady_timer& changed() { return changed_; }

  /// Relay, once open: the client's connection, whose bytes the stream now carries.
  void attach(boost::asio::ip::tcp::socket s);
  /// Keeps `held` (the client connection's listener slot) until the stream ends, and calls `ended`
  /// then: the relay's coroutine for the client need not live as long as the tunnel.
  void on_end(std::shared_ptr<void> held, std::function<void(const LinkStream&)> ended);
  /// Gateway: the terminal answered; 200, and the stream carries `s`.
  void accept(boost::asio::ip::tcp::socket s);
  /// Gateway: the terminal cannot be reached; 502 with `why` ([a-z_]).
  void refuse(const std::string& why);
  /// Gateway: a signal request was taken; 200 without a body, and the stream ends.
  void acknowledge();
  /// Either side: gives up on the stream (RST_STREAM CANCEL) and resets the socket.
  void cancel();
  /// nghttp2's data source for this stream's DATA frames: the socket read straight into the frame.
  long read_for_link(std::uint8_t* buf, std::size_t len, std::uint32_t* flags);

 private:
  friend class TunnelLink;
  enum class Want { nothing, read, write };
  void set_state(State s);
  void deliver(const std::uint8_t* p, std::size_t n);  // bytes from the link to the socket
  void flush_to_socket();
  void after_peer_end();
  void arm(Want w);
  void end(bool reset);

  TunnelLink* link_ = nullptr;  ///< null once the link is gone
  std::int32_t id_ = -1;
  State state_ = State::opening;
  std::string authority_, protocol_, reason_, signal_;
  std::optional<boost::asio::ip::tcp::socket> sock_;
  boost::asio::steady_timer changed_;
  std::string early_;                              ///< relay: sent ahead of the socket's bytes
  std::shared_ptr<void> held_;                     ///< released when the stream ends
  std::function<void(const LinkStream&)> on_end_;  ///< called when the stream ends
  std::string pending_;  ///< from the link, not yet taken by the socket (from pending_off_ on)
  std::size_t pending_off_ = 0;
  Bytes bytes_;
  std::chrono::steady_clock::time_point started_, last_activity_;
  bool deferred_ = false;     ///< the link waits for the socket to be readable
  bool reading_ = false;      ///< a readability wait is armed
  bool writing_ = false;      ///< a writability wait is armed
  bool peer_ended_ = false;   ///< END_STREAM received: FIN to the socket once `pending_` is out
  bool sent_end_ = false;     ///< the socket's EOF was sent as END_STREAM
  bool socket_shut_ = false;  ///< our FIN went to the socket
  bool h2_closed_ = false;    ///< nghttp2 forgot the stream
  bool ended_ = false;        ///< over for us: the socket closed
  bool answered_ = false;     ///< relay: a 200 response came
};

struct LinkOptions {
  std::uint32_t max_streams = 256;               ///< gateway: streams open at once (SETTINGS)
  std::uint32_t stream_window = 1024 * 1024;     ///< octets in flight per stream
  std::uint32_t link_window = 16 * 1024 * 1024;  ///< octets in flight on the whole link
  std::chrono::seconds stream_idle{300}, stream_max{86400};
  std::chrono::seconds link_idle{0};   ///< closes after this without a stream; 0: never
  std::chrono::seconds keepalive{30};  ///< PING after this silence; closed when unanswered as long
};

class TunnelLink : public std::enable_shared_from_this<TunnelLink> {
 public:
  enum class Side { relay, gateway };
  enum class State { running, retiring, closed };
  /// Gateway: a stream asks for a terminal; the handler answers it (accept or refuse), maybe later.
  using OpenHandler = std::function<void(std::shared_ptr<LinkStream>)>;
  /// A stream ended (for the roles' logs and counters).
  using EndHandler = std::function<void(const LinkStream&)>;
  using ClosedHandler = std::function<void(const char* why)>;

  TunnelLink(std::shared_ptr<Leg> leg, Side side, LinkOptions opt);
  ~TunnelLink();
  TunnelLink(const TunnelLink&) = delete;
  TunnelLink& operator=(const TunnelLink&) = delete;

  void on_open(OpenHandler h) { on_open_ = std::move(h); }
  void on_stream_end(EndHandler h) { on_end_ = std::move(h); }
  void on_closed(ClosedHandler h) { on_closed_ = std::move(h); }
  /// Starts HTTP/2; `received` is what already came after the hello. False when nghttp2 failed.
  bool start(const std::string& received = {});
  /// Relay: a new tunnel; `early` goes with the request. Null when the link cannot take one.
  std::shared_ptr<LinkStream> open(const std::string& authority, const std::string& protocol,
                                   std::string early);
  /// Relay: a signal for the gateway (seed 001 step D over the link, issue 17 item 1): `POST
  /// /v1/signal` with the sealed signal in hex as `mobix-signal`, no body. The gateway answers 200
  /// once it took it (remembered, a leg on its way) or 502 with `mobix-reason`. Null when the link
  /// cannot take one.
  std::shared_ptr<LinkStream> signal(const std::string& sealed_hex);
  /// Can it take new streams (running, stream ids left)?
  bool usable() const;
  /// No new streams (GOAWAY); closes once the open ones ended.
  void retire();
  /// Closes now: every stream is reset.
  void close(const char* why);
  State state() const { return state_; }
  std::size_t streams() const { return streams_.size(); }

 private:
  friend class LinkStream;
  struct Callbacks;
  void flush();
  bool write_out();
  void on_readable();
  void arm_read();
  void arm_write();
  void sweep();
  void forget(LinkStream& s);
  void erase(LinkStream& s);
  void resume(LinkStream& s);
  void consume(LinkStream& s, std::size_t n);

  std::shared_ptr<Leg> leg_;
  Side side_;
  LinkOptions opt_;
  nghttp2_session* h2_ = nullptr;
  State state_ = State::running;
  std::unordered_map<std::int32_t, std::shared_ptr<LinkStream>> streams_;
  std::string out_;  ///< frames built, not yet taken by the TLS connection
  std::size_t out_off_ = 0;
  bool read_armed_ = false, write_armed_ = false, in_flush_ = false, in_recv_ = false;
  boost::asio::steady_timer sweep_;
  std::chrono::steady_clock::time_point last_rx_, last_stream_end_, ping_sent_;
  bool ping_out_ = false;
  OpenHandler on_open_;
  EndHandler on_end_;
  ClosedHandler on_closed_;
};

}  // namespace mobix::net
