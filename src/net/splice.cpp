// `splice` (tunnel_leg.hpp): both directions of a relayed connection as callbacks on one object.
// An idle relayed connection holds that object, one timer and a readiness wait per direction: no
// buffer and no coroutine frames (issue 17: memory per idle session and per idle tunnel).
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <memory>
#include <optional>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/tunnel_leg.hpp"

namespace mobix::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// One buffer per thread for every copying relay: a direction keeps its own copy only of what the
// far side could not take yet.
thread_local std::array<char, 64 * 1024> t_buffer;

// Pipes for splice(2), one per direction while data flows, kept per thread: an idle connection
// holds none (3,000 idle tunnels would otherwise hold 12,000 descriptors per proxy).
struct Pipe {
  int r = -1, w = -1;
};
thread_local std::vector<Pipe> t_pipes;

std::optional<Pipe> take_pipe() {
  if (!t_pipes.empty()) {
    auto p = t_pipes.back();
    t_pipes.pop_back();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return std::nullopt;
  return Pipe{fds[0], fds[1]};
}

void give_pipe(Pipe p, bool empty) {
  if (empty && t_pipes.size() < 256) {
    t_pipes.push_back(p);
  } else {  // bytes left in it belong to a dead connection
    ::close(p.r);
    ::close(p.w);
  }
}

class Splicer : public std::enable_shared_from_this<Splicer> {
 public:
  Splicer(Leg& a, Leg& b, Clock::duration idle, Clock::duration total)
      : timer_(a.socket().get_executor()),
        done_(a.socket().get_executor(), Clock::time_point::max()),
        last_(Clock::now()),
        end_(last_ + total),
        idle_(idle),
        ab_(&a, &b),
        ba_(&b, &a) {
    result_.zero_copy = !a.tls() && !b.tls();
  }

  void start() {
    arm();
    step(ab_);
    step(ba_);
  }
  bool finished() const { return finished_; }
  const SpliceBytes& result() const { return result_; }
  /// Waited on by `splice`; cancelled when both directions are over.
  asio::steady_timer& done() { return done_; }

 private:
  enum class Wait { none, from_readable, from_writable, to_readable, to_writable, turn };
  // Chunks one direction moves before it lets the other connections of this thread have a turn.
  static constexpr int kChunksPerTurn = 16;
  struct Direction {
    Direction(Leg* f, Leg* t) : from(f), to(t) {}
    Leg* from;
    Leg* to;
    std::uint64_t bytes = 0;
    std::string rest;          // copying: what `to` could not take yet
    std::optional<Pipe> pipe;  // zero-copy: the pipe holding what `to` could not take yet
    std::size_t in_pipe = 0;
    bool done = false;
  };

  // Ends the connection after `idle_` without traffic either way or at `end_`; one timer,
  // re-armed only when it fires (no timer work per read or write).
  void arm() {
    timer_.expires_at(std::min(last_ + idle_, end_));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->finished_) return;
      auto now = Clock::now();
      if (now >= self->end_ || now - self->last_ >= self->idle_) {
        self->result_.timed_out = true;
        self->result_.total_reached = now >= self->end_;
        self->ab_.from->close();
        self->ab_.to->close();
        return;
      }
      self->arm();
    });
  }

  void step(Direction& d) {
    auto wait = result_.zero_copy ? move_spliced(d) : move_copied(d);
    if (wait == Wait::none) return finish(d);
    if (wait == Wait::turn) {
      asio::post(timer_.get_executor(), [self = shared_from_this(), &d] { self->step(d); });
      return;
    }
    Leg* leg = wait == Wait::from_readable || wait == Wait::from_writable ? d.from : d.to;
    auto type = wait == Wait::from_readable || wait == Wait::to_readable ? tcp::socket::wait_read
                                                                         : tcp::socket::wait_write;
    leg->socket().async_wait(type, [self = shared_from_this(), &d, leg](boost::system::error_code ec) {
      if (ec || !leg->is_open()) {  // closed by the timer, or from outside (a mail session's detach)
        d.from->close();
        d.to->close();
        return self->finish(d);
      }
      self->step(d);
    });
  }

  // Copies until a side must be waited for; Wait::none when this direction is over.
  Wait move_copied(Direction& d) {
    for (int chunks = 0;; ++chunks) {
      if (chunks == kChunksPerTurn) return Wait::turn;
      if (!d.rest.empty()) {
        std::size_t k = 0;
        auto wr = d.to->write(d.rest.data(), d.rest.size(), k);
        if (wr == Leg::Io::done) {
          d.bytes += k;
          d.rest.erase(0, k);
          if (d.rest.empty()) std::string().swap(d.rest);  // an idle direction keeps no buffer
          continue;
        }
        if (wr == Leg::Io::want_read) return Wait::to_readable;
        if (wr == Leg::Io::want_write) return Wait::to_writable;
        return reset_both(d);
      }
      std::size_t n = 0;
      auto r = d.from->read(t_buffer.data(), t_buffer.size(), n);
      if (r == Leg::Io::want_read) return Wait::from_readable;
      if (r == Leg::Io::want_write) return Wait::from_writable;
      if (r == Leg::Io::eof) {
        d.to->shutdown_send();  // the half-close crosses
        return Wait::none;
      }
      if (r != Leg::Io::done) return reset_both(d);
      last_ = Clock::now();
      std::size_t k = 0;
      auto wr = d.to->write(t_buffer.data(), n, k);
      if (wr == Leg::Io::failed) return reset_both(d);
      d.bytes += wr == Leg::Io::done ? k : 0;
      if (wr != Leg::Io::done) k = 0;
      if (k < n) d.rest.assign(t_buffer.data() + k, n - k);  // keep it before t_buffer is reused
    }
  }

  // Both legs plain TCP: the kernel moves the bytes socket -> pipe -> socket (zero copy).
  Wait move_spliced(Direction& d) {
    constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
    for (int chunks = 0;; ++chunks) {
      if (chunks == kChunksPerTurn) return Wait::turn;
      while (d.in_pipe > 0) {
        auto m = ::splice(d.pipe->r, nullptr, d.to->socket().native_handle(), nullptr, d.in_pipe, kFlags);
        if (m > 0) {
          d.in_pipe -= static_cast<std::size_t>(m);
          d.bytes += static_cast<std::uint64_t>(m);
        } else if (m < 0 && errno == EINTR) {
          continue;
        } else if (m < 0 && errno == EAGAIN) {
          return Wait::to_writable;
        } else {
          return reset_both(d);
        }
      }
      if (d.pipe) {
        give_pipe(*d.pipe, true);
        d.pipe.reset();
      }
      auto pipe = take_pipe();
      if (!pipe) return reset_both(d);  // out of descriptors: end this connection, not the process
      auto n = ::splice(d.from->socket().native_handle(), nullptr, pipe->w, nullptr, 1 << 20, kFlags);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {  // nothing to read (the pipe is empty)
        give_pipe(*pipe, true);
        if (errno == EINTR) continue;
        return Wait::from_readable;
      }
      if (n <= 0) {
        give_pipe(*pipe, true);
        if (n < 0) return reset_both(d);
        d.to->shutdown_send();  // the half-close crosses
        return Wait::none;
      }
      last_ = Clock::now();
      d.pipe = pipe;
      d.in_pipe = static_cast<std::size_t>(n);
    }
  }

  // A reset or an error crosses too: both legs are aborted.
  Wait reset_both(Direction& d) {
    d.from->reset();
    d.to->reset();
    return Wait::none;
  }

  void finish(Direction& d) {
    if (d.pipe) {
      give_pipe(*d.pipe, d.in_pipe == 0);
      d.pipe.reset();
    }
    std::string().swap(d.rest);
    d.done = true;
    if (!ab_.done || !ba_.done || finished_) return;
    finished_ = true;
    timer_.cancel();
    result_.a_to_b = ab_.bytes;
    result_.b_to_a = ba_.bytes;
    done_.cancel();
  }

  asio::steady_timer timer_;
  asio::steady_timer done_;
  Clock::time_point last_, end_;
  Clock::duration idle_;
  Direction ab_, ba_;
  SpliceBytes result_;
  bool finished_ = false;
};

}  // namespace

asio::awaitable<SpliceBytes> splice(Leg& a, Leg& b, std::chrono::seconds idle, std::chrono::seconds total) {
  auto splicer = std::make_shared<Splicer>(a, b, idle, total);
  splicer->start();
  if (!splicer->finished()) co_await splicer->done().async_wait(asio::as_tuple(asio::use_awaitable));
  co_return splicer->result();
}

}  // namespace mobix::net
