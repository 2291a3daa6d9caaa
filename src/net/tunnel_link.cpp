// The multiplexed tunnel link (tunnel_link.hpp): nghttp2 for the frames, flow control and stream
// bookkeeping; this file moves bytes between the streams' sockets and the link's TLS connection.
#include "net/tunnel_link.hpp"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <nghttp2/nghttp2.h>
#include <boost/asio/post.hpp>

namespace mobix::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// One buffer per thread for what the TLS connection gives at a time: nghttp2 copies what it
// keeps, so nothing of it outlives a read.
thread_local std::array<std::uint8_t, 64 * 1024> t_link_in;
constexpr std::size_t kOutBatch = 64 * 1024;  // small frames gathered into one TLS write
constexpr std::size_t kRecord = 16384;        // a TLS record's payload (RFC 8446 5.1)
constexpr std::size_t kFrameHeader = 9;       // RFC 9113 4.1
constexpr int kReadsPerTurn = 32;             // then other connections get their turn

nghttp2_nv header(const char* name, const std::string& value) {
  return {reinterpret_cast<std::uint8_t*>(const_cast<char*>(name)),
          reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), std::strlen(name), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

bool name_is(const std::uint8_t* name, std::size_t len, std::string_view want) {
  return std::string_view(reinterpret_cast<const char*>(name), len) == want;
}

// A stream's DATA comes from its socket (LinkStream::read_for_link), for a request or a response.
nghttp2_data_provider data_provider(LinkStream* s) {
  nghttp2_data_provider prd{};
  prd.source.ptr = s;
  prd.read_callback = [](nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t len,
                         std::uint32_t* flags, nghttp2_data_source* src, void*) -> ssize_t {
    return static_cast<LinkStream*>(src->ptr)->read_for_link(buf, len, flags);
  };
  return prd;
}

}  // namespace

// ---- LinkStream ----------------------------------------------------------------------------------

LinkStream::LinkStream(const asio::any_io_executor& ex, std::string authority, std::string protocol)
    : authority_(std::move(authority)),
      protocol_(std::move(protocol)),
      changed_(ex, asio::steady_timer::time_point::max()),
      started_(Clock::now()),
      last_activity_(started_) {}

LinkStream::~LinkStream() = default;

void LinkStream::set_state(State s) {
  state_ = s;
  changed_.cancel();
}

void LinkStream::attach(tcp::socket s) {
  if (state_ != State::open || sock_) {
    boost::system::error_code ignore;
    s.close(ignore);
    return;
  }
  sock_.emplace(std::move(s));
  flush_to_socket();  // what the terminal sent before the client's socket was ours
  if (link_) link_->resume(*this);
}

void LinkStream::on_end(std::shared_ptr<void> held, std::function<void(const LinkStream&)> ended) {
  if (ended_) {
    if (ended) ended(*this);
    return;
  }
  held_ = std::move(held);
  on_end_ = std::move(ended);
}

void LinkStream::accept(tcp::socket s) {
  if (!link_ || state_ != State::opening) {
    boost::system::error_code ignore;
    s.close(ignore);
    return;
  }
  sock_.emplace(std::move(s));
  std::string status = "200";
  nghttp2_nv nv[] = {header(":status", status)};
  auto prd = data_provider(this);
  if (nghttp2_submit_response(link_->h2_, id_, nv, 1, &prd) != 0) return cancel();
  set_state(State::open);
  flush_to_socket();  // the client's first bytes came with the request
  link_->flush();
}

void LinkStream::refuse(const std::string& why) {
  if (!link_ || state_ != State::opening) return;
  reason_ = why;
  std::string status = "502";
  nghttp2_nv nv[] = {header(":status", status), header("mobix-reason", reason_)};
  nghttp2_submit_response(link_->h2_, id_, nv, 2, nullptr);  // the relay resets the stream then
  set_state(State::refused);
  link_->flush();
}

void LinkStream::acknowledge() {
  if (!link_ || state_ != State::opening) return;
  std::string status = "200";
  nghttp2_nv nv[] = {header(":status", status)};
  if (nghttp2_submit_response(link_->h2_, id_, nv, 1, nullptr) != 0) return cancel();
  sent_end_ = true;  // the response ends the stream (the request did too): it closes cleanly
  set_state(State::open);
  link_->flush();
}

void LinkStream::cancel() {
  if (link_ && !h2_closed_) {
    nghttp2_submit_rst_stream(link_->h2_, NGHTTP2_FLAG_NONE, id_, NGHTTP2_CANCEL);
    link_->flush();
  }
  end(true);
}

// Bytes of this stream from the link: straight to the socket when it takes them, else kept (at
// most the stream's window) and acknowledged once written.
void LinkStream::deliver(const std::uint8_t* p, std::size_t n) {
  last_activity_ = Clock::now();
  if (ended_) {
    if (link_) link_->consume(*this, n);  // a stream we gave up: the link's window back
    return;
  }
  if (!sock_ || !pending_.empty()) {
    pending_.append(reinterpret_cast<const char*>(p), n);
    if (sock_) arm(Want::write);
    return;
  }
  auto r = ::send(sock_->native_handle(), p, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  std::size_t sent = r > 0 ? static_cast<std::size_t>(r) : 0;
  if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return cancel();
  bytes_.to_socket += sent;
  if (link_) link_->consume(*this, sent);
  if (sent < n) {
    pending_.append(reinterpret_cast<const char*>(p) + sent, n - sent);
    arm(Want::write);
  }
}

void LinkStream::flush_to_socket() {
  if (!sock_) return;
  while (pending_off_ < pending_.size()) {
    auto r = ::send(sock_->native_handle(), pending_.data() + pending_off_, pending_.size() - pending_off_,
                    MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return arm(Want::write);
      return cancel();
    }
    const auto sent = static_cast<std::size_t>(r);
    pending_off_ += sent;  // an offset, not an erase: no moving the rest on every partial write
    bytes_.to_socket += sent;
    if (link_) link_->consume(*this, sent);
  }
  std::string().swap(pending_);  // an idle stream keeps no buffer
  pending_off_ = 0;
  if (peer_ended_) after_peer_end();
}

// END_STREAM from the link and everything before it written: the FIN goes to the socket.
void LinkStream::after_peer_end() {
  if (!sock_ || !pending_.empty() || socket_shut_) return;
  socket_shut_ = true;
  boost::system::error_code ignore;
  sock_->shutdown(tcp::socket::shutdown_send, ignore);
  if (h2_closed_) end(false);  // else nghttp2 closes the stream once both ways ended
}

void LinkStream::arm(Want w) {
  if (!sock_ || ended_) return;
  auto self = shared_from_this();
  if (w == Want::write && !writing_) {
    writing_ = true;
    sock_->async_wait(tcp::socket::wait_write, [self](boost::system::error_code ec) {
      self->writing_ = false;
      if (!ec) self->flush_to_socket();
      if (self->link_) self->link_->flush();
    });
  }
  if (w == Want::read && !reading_) {
    reading_ = true;
    sock_->async_wait(tcp::socket::wait_read, [self](boost::system::error_code ec) {
      self->reading_ = false;
      if (ec || !self->link_ || self->ended_) return;
      self->link_->resume(*self);
    });
  }
}

// nghttp2 builds a DATA frame: read the socket straight into it.
long LinkStream::read_for_link(std::uint8_t* buf, std::size_t len, std::uint32_t* flags) {
  if (!early_.empty()) {
    const auto n = std::min(len, early_.size());
    std::memcpy(buf, early_.data(), n);
    early_.erase(0, n);
    if (early_.empty()) std::string().swap(early_);
    bytes_.from_socket += n;  // the client's first bytes, read by the relay before the stream
    return static_cast<long>(n);
  }
  if (!sock_ || state_ != State::open) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  for (;;) {
    auto r = ::recv(sock_->native_handle(), buf, len, MSG_DONTWAIT);
    if (r > 0) {
      bytes_.from_socket += static_cast<std::uint64_t>(r);
      last_activity_ = Clock::now();
      return r;
    }
    if (r == 0) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;  // the socket's FIN becomes END_STREAM
      sent_end_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      deferred_ = true;
      arm(Want::read);
      return NGHTTP2_ERR_DEFERRED;
    }
    bytes_.reset = true;
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream
  }
}

// The stream is over for us: the socket closed (with a reset unless both ways ended cleanly).
void LinkStream::end(bool reset) {
  if (ended_) return;
  if (reset) bytes_.reset = true;
  if (sock_ && sock_->is_open()) {
    boost::system::error_code ignore;
    if (reset) sock_->set_option(asio::socket_base::linger(true, 0), ignore);
    sock_->close(ignore);
  }
  if (link_ && pending_.size() > pending_off_) link_->consume(*this, pending_.size() - pending_off_);
  std::string().swap(pending_);  // the link's window back for what the socket never took
  pending_off_ = 0;
  ended_ = true;
  set_state(state_ == State::refused ? State::refused : State::closed);  // a refusal stays one
  if (on_end_) std::exchange(on_end_, nullptr)(*this);
  held_.reset();
  if (link_) link_->forget(*this);
}

// ---- nghttp2 callbacks ----------------------------------------------------------------------------

struct TunnelLink::Callbacks {
  static TunnelLink& link(void* user) { return *static_cast<TunnelLink*>(user); }
  static LinkStream* stream(nghttp2_session* s, std::int32_t id) {
    return static_cast<LinkStream*>(nghttp2_session_get_stream_user_data(s, id));
  }

  static int begin_headers(nghttp2_session* s, const nghttp2_frame* f, void* user) {
    auto& l = link(user);
    if (l.side_ != Side::gateway || f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
      return 0;
    auto st = std::make_shared<LinkStream>(l.leg_->socket().get_executor(), std::string(), std::string());
    st->link_ = &l;
    st->id_ = f->hd.stream_id;
    l.streams_[st->id_] = st;
    nghttp2_session_set_stream_user_data(s, st->id_, st.get());
    return 0;
  }

  static int on_header(nghttp2_session* s, const nghttp2_frame* f, const std::uint8_t* name,
                       std::size_t namelen, const std::uint8_t* value, std::size_t valuelen, std::uint8_t,
                       void*) {
    auto* st = stream(s, f->hd.stream_id);
    if (!st || f->hd.type != NGHTTP2_HEADERS) return 0;
    std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (name_is(name, namelen, ":authority")) st->authority_ = std::move(v);
    if (name_is(name, namelen, "mobix-protocol")) st->protocol_ = std::move(v);
    if (name_is(name, namelen, ":status")) st->reason_ = v == "200" ? "" : "status " + v;
    if (name_is(name, namelen, "mobix-reason")) st->reason_ = std::move(v);
    if (name_is(name, namelen, "mobix-signal")) st->signal_ = std::move(v);
    return 0;
  }

  static int frame_recv(nghttp2_session* s, const nghttp2_frame* f, void* user) {
    auto& l = link(user);
    if (f->hd.type == NGHTTP2_PING && (f->hd.flags & NGHTTP2_FLAG_ACK)) l.ping_out_ = false;
    if (f->hd.type == NGHTTP2_GOAWAY && l.state_ == State::running) l.state_ = State::retiring;
    auto* st = stream(s, f->hd.stream_id);
    if (!st) return 0;
    if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST && l.on_open_) {
      l.on_open_(st->shared_from_this());
    } else if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      st->answered_ = st->reason_.empty();
      st->set_state(st->answered_ ? LinkStream::State::open : LinkStream::State::refused);
      // Refused: our request side is not wanted any more (RFC 9113 8.1), and both ends forget it.
      if (!st->reason_.empty()) nghttp2_submit_rst_stream(s, NGHTTP2_FLAG_NONE, st->id_, NGHTTP2_NO_ERROR);
    }
    if ((f->hd.type == NGHTTP2_DATA || f->hd.type == NGHTTP2_HEADERS) &&
        (f->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      st->peer_ended_ = true;
      st->after_peer_end();
    }
    return 0;
  }

  static int data_chunk(nghttp2_session* s, std::uint8_t, std::int32_t id, const std::uint8_t* data,
                        std::size_t len, void*) {
    if (auto* st = stream(s, id)) {
      st->deliver(data, len);
    } else {
      nghttp2_session_consume(s, id, len);  // a stream we forgot: the link's window back
    }
    return 0;
  }

  // A DATA frame with its header fills one TLS record exactly: no 9-octet record after each.
  static ssize_t data_length(nghttp2_session*, std::uint8_t, std::int32_t, std::int32_t window, std::int32_t,
                             std::uint32_t remote_max_frame, void*) {
    const auto want = static_cast<std::int32_t>(kRecord - kFrameHeader);
    return std::min({want, window, static_cast<std::int32_t>(remote_max_frame)});
  }

  static int stream_close(nghttp2_session* s, std::int32_t id, std::uint32_t error, void* user) {
    auto& l = link(user);
    auto* st = stream(s, id);
    if (!st) return 0;
    auto keep = st->shared_from_this();
    st->h2_closed_ = true;
    if (st->ended_) {
      l.erase(*st);  // it ended for us earlier; nghttp2 is done with it too
      return 0;
    }
    const bool clean = error == NGHTTP2_NO_ERROR &&
                       (st->state_ == LinkStream::State::refused || (st->sent_end_ && st->peer_ended_));
    if (!clean) {
      st->end(true);
    } else if (st->state_ == LinkStream::State::refused || st->socket_shut_ || !st->sock_) {
      st->end(false);  // (no socket: a signal request, answered)
    }
    // Otherwise both ways ended cleanly and the socket still takes what is pending: it ends then.
    return 0;
  }
};

// ---- TunnelLink ----------------------------------------------------------------------------------

TunnelLink::TunnelLink(std::shared_ptr<Leg> leg, Side side, LinkOptions opt)
    : leg_(std::move(leg)), side_(side), opt_(opt), sweep_(leg_->socket().get_executor()) {}

TunnelLink::~TunnelLink() {
  for (auto& [id, s] : streams_) s->link_ = nullptr;
  if (h2_) nghttp2_session_del(h2_);
}

bool TunnelLink::start(const std::string& received) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &Callbacks::begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, &Callbacks::on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &Callbacks::frame_recv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &Callbacks::data_chunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, &Callbacks::stream_close);
  nghttp2_session_callbacks_set_data_source_read_length_callback(cb, &Callbacks::data_length);
  nghttp2_option* o = nullptr;
  nghttp2_option_new(&o);
  nghttp2_option_set_no_auto_window_update(o, 1);  // acknowledged once written to the socket
  nghttp2_option_set_max_send_header_block_length(o, 4096);
  int rv = side_ == Side::relay ? nghttp2_session_client_new2(&h2_, cb, this, o)
                                : nghttp2_session_server_new2(&h2_, cb, this, o);
  nghttp2_option_del(o);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return false;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, side_ == Side::gateway ? opt_.max_streams : 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, opt_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 4096},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  };
  const std::size_t n = side_ == Side::gateway ? 3 : 4;  // ENABLE_PUSH is the client's to send
  if (nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, iv, n) != 0) return false;
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0,
                                        static_cast<std::int32_t>(opt_.link_window));
  last_rx_ = last_stream_end_ = Clock::now();
  leg_->read_ahead();
  if (!received.empty()) {
    in_recv_ = true;
    auto r = nghttp2_session_mem_recv(h2_, reinterpret_cast<const std::uint8_t*>(received.data()),
                                      received.size());
    in_recv_ = false;
    if (r < 0) return false;
  }
  flush();
  arm_read();
  sweep();
  return state_ != State::closed;
}

std::shared_ptr<LinkStream> TunnelLink::open(const std::string& authority, const std::string& protocol,
                                             std::string early) {
  if (!usable()) return nullptr;
  auto st = std::make_shared<LinkStream>(leg_->socket().get_executor(), authority, protocol);
  st->early_ = std::move(early);
  st->link_ = this;
  std::string method = "CONNECT";
  nghttp2_nv nv[] = {header(":method", method), header(":authority", st->authority_),
                     header("mobix-protocol", st->protocol_)};
  auto prd = data_provider(st.get());
  const auto id = nghttp2_submit_request(h2_, nullptr, nv, 3, &prd, st.get());
  if (id < 0) {
    st->link_ = nullptr;
    return nullptr;
  }
  st->id_ = id;
  streams_[id] = st;
  flush();
  return st;
}

std::shared_ptr<LinkStream> TunnelLink::signal(const std::string& sealed_hex) {
  if (!usable() || side_ != Side::relay) return nullptr;
  auto st = std::make_shared<LinkStream>(leg_->socket().get_executor(), "gateway", "signal");
  st->link_ = this;
  st->sent_end_ = true;  // no body: END_STREAM with the headers
  std::string method = "POST", scheme = "https", path = "/v1/signal";
  nghttp2_nv nv[] = {header(":method", method),
                     header(":scheme", scheme),
                     header(":authority", st->authority_),
                     header(":path", path),
                     header("mobix-protocol", st->protocol_),
                     header("mobix-signal", sealed_hex)};
  const auto id = nghttp2_submit_request(h2_, nullptr, nv, 6, nullptr, st.get());
  if (id < 0) {
    st->link_ = nullptr;
    return nullptr;
  }
  st->id_ = id;
  streams_[id] = st;
  flush();
  return st;
}

bool TunnelLink::usable() const {
  return state_ == State::running && h2_ && nghttp2_session_get_next_stream_id(h2_) < (1u << 30);
}

void TunnelLink::retire() {
  if (state_ != State::running) return;
  state_ = State::retiring;
  nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_),
                        NGHTTP2_NO_ERROR, nullptr, 0);
  flush();
  if (streams_.empty()) close("retired");
}

void TunnelLink::close(const char* why) {
  if (state_ == State::closed) return;
  state_ = State::closed;
  auto self = shared_from_this();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->h2_closed_ = true;
    s->end(true);
    s->link_ = nullptr;
  }
  sweep_.cancel();
  leg_->close();
  if (on_closed_) on_closed_(why);
}

// The stream ended for us; it is dropped once nghttp2 is done with it too (its data provider
// points at it until then).
void TunnelLink::forget(LinkStream& s) {
  if (on_end_) on_end_(s);
  if (s.h2_closed_) erase(s);
}

void TunnelLink::erase(LinkStream& s) {
  auto it = streams_.find(s.id_);
  if (it == streams_.end() || it->second.get() != &s) return;
  auto keep = std::move(it->second);  // `s` lives to the end of this call
  streams_.erase(it);
  s.link_ = nullptr;
  if (h2_) nghttp2_session_set_stream_user_data(h2_, s.id_, nullptr);
  if (!streams_.empty()) return;
  last_stream_end_ = Clock::now();
  if (state_ == State::retiring) {
    auto self = shared_from_this();
    asio::post(sweep_.get_executor(), [self] { self->close("retired"); });
  }
}

void TunnelLink::resume(LinkStream& s) {
  if (s.deferred_ && !s.h2_closed_ && h2_ && state_ != State::closed) {
    s.deferred_ = false;
    nghttp2_session_resume_data(h2_, s.id_);
  }
  flush();
}

void TunnelLink::consume(LinkStream& s, std::size_t n) {
  if (n && h2_ && state_ != State::closed) nghttp2_session_consume(h2_, s.id_, n);
}

// Frames nghttp2 built go to the TLS connection: a full DATA frame (one TLS record, see
// data_length) straight from nghttp2's buffer, small frames gathered into few writes; what the
// connection does not take waits for it to be writable (and nghttp2 builds nothing more meanwhile).
void TunnelLink::flush() {
  if (state_ == State::closed || in_flush_ || in_recv_) return;  // not from inside nghttp2
  in_flush_ = true;
  for (;;) {
    if (out_off_ < out_.size() && !write_out()) {
      in_flush_ = false;
      return;
    }
    out_.clear();
    out_off_ = 0;
    bool more = true;
    while (more && out_.size() < kOutBatch) {
      const std::uint8_t* data = nullptr;
      auto n = nghttp2_session_mem_send(h2_, &data);
      if (n < 0) {
        in_flush_ = false;
        return close("nghttp2 send failed");
      }
      more = n > 0;
      const auto len = static_cast<std::size_t>(n);
      if (out_.empty() && len >= kRecord) {  // a full frame: no copy unless the socket is full
        std::size_t sent = 0;
        auto io = leg_->write(reinterpret_cast<const char*>(data), len, sent);
        if (io == Leg::Io::failed) {
          in_flush_ = false;
          return close("write failed");
        }
        if (sent < len) {
          out_.append(reinterpret_cast<const char*>(data) + sent, len - sent);
          break;
        }
      } else if (len > 0) {
        out_.append(reinterpret_cast<const char*>(data), len);
      }
    }
    if (out_.empty()) break;
  }
  if (out_.capacity() > kOutBatch * 2) std::string().swap(out_);
  in_flush_ = false;
  if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_))
    close(state_ == State::retiring ? "retired" : "ended");  // GOAWAY both ways, no stream left
}

// Writes what `out_` holds; false when the connection took only part (a write wait is armed) or
// failed (closed).
bool TunnelLink::write_out() {
  while (out_off_ < out_.size()) {
    std::size_t n = 0;
    auto io = leg_->write(out_.data() + out_off_, out_.size() - out_off_, n);
    if (io == Leg::Io::done) {
      out_off_ += n;
      continue;
    }
    if (io == Leg::Io::want_write || io == Leg::Io::want_read) {
      arm_write();
    } else {
      close("write failed");
    }
    return false;
  }
  return true;
}

void TunnelLink::arm_write() {
  if (write_armed_ || state_ == State::closed) return;
  write_armed_ = true;
  auto self = shared_from_this();
  leg_->socket().async_wait(tcp::socket::wait_write, [self](boost::system::error_code ec) {
    self->write_armed_ = false;
    if (ec) return self->close("write wait failed");
    self->flush();
    if (self->state_ != State::closed) self->on_readable();  // a TLS read may have waited on the write
  });
}

void TunnelLink::arm_read() {
  if (read_armed_ || state_ == State::closed) return;
  read_armed_ = true;
  auto self = shared_from_this();
  leg_->socket().async_wait(tcp::socket::wait_read, [self](boost::system::error_code ec) {
    self->read_armed_ = false;
    if (ec) return self->close("read wait failed");
    self->on_readable();
  });
}

// What the TLS connection holds goes to nghttp2, which calls back per frame.
void TunnelLink::on_readable() {
  if (state_ == State::closed) return;
  auto self = shared_from_this();
  for (int i = 0; i < kReadsPerTurn; ++i) {
    std::size_t n = 0;
    auto io = leg_->read(reinterpret_cast<char*>(t_link_in.data()), t_link_in.size(), n);
    if (io == Leg::Io::done) {
      last_rx_ = Clock::now();
      ping_out_ = false;
      in_recv_ = true;
      const auto r = nghttp2_session_mem_recv(h2_, t_link_in.data(), n);
      in_recv_ = false;
      if (r < 0) return close("protocol error");
      if (state_ == State::closed) return;
      continue;
    }
    flush();
    if (io == Leg::Io::want_read) return arm_read();
    if (io == Leg::Io::want_write) return arm_write();
    return close(io == Leg::Io::eof ? "closed by the peer" : "read failed");
  }
  flush();
  asio::post(sweep_.get_executor(), [self] { self->on_readable(); });
}

// Once a second: streams past their deadlines, the link's liveness and idleness.
void TunnelLink::sweep() {
  if (state_ == State::closed) return;
  const auto now = Clock::now();
  std::vector<std::shared_ptr<LinkStream>> expired;
  for (auto& [id, s] : streams_)
    if (now - s->last_activity_ > opt_.stream_idle || now - s->started_ > opt_.stream_max)
      expired.push_back(s);
  for (auto& s : expired) {
    s->bytes_.timed_out = true;
    s->cancel();
  }
  if (opt_.link_idle.count() > 0 && streams_.empty() && now - last_stream_end_ > opt_.link_idle) {
    retire();
    if (state_ == State::closed) return;
  }
  if (now - last_rx_ > opt_.keepalive) {
    if (!ping_out_) {
      ping_out_ = true;
      ping_sent_ = now;
      nghttp2_submit_ping(h2_, NGHTTP2_FLAG_NONE, nullptr);
      flush();
    } else if (now - ping_sent_ > opt_.keepalive) {
      return close("no answer to PING");
    }
  }
  sweep_.expires_after(std::chrono::seconds(1));
  auto self = shared_from_this();
  sweep_.async_wait([self](boost::system::error_code ec) {
    if (!ec) self->sweep();
  });
}

}  // namespace mobix::net
