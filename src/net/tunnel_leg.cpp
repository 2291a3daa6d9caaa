#include "net/tunnel_leg.hpp"

#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <memory>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/tls_session_cache.hpp"

namespace mobix::net {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string openssl_error() {
  char text[256] = "TLS failure";
  if (auto e = ERR_peek_last_error()) ERR_error_string_n(e, text, sizeof text);
  return text;
}
}  // namespace

asio::awaitable<bool> Leg::wait(Io want, Clock::time_point deadline) {
  asio::steady_timer timer(sock_.get_executor(), deadline);
  auto type = want == Io::want_write ? tcp::socket::wait_write : tcp::socket::wait_read;
  auto r = co_await (sock_.async_wait(type, kUse) || timer.async_wait(kUse));
  if (r.index() != 0) co_return false;  // the deadline passed
  auto [ec] = std::get<0>(r);
  co_return !ec;
}

asio::awaitable<bool> Leg::handshake(seconds timeout, std::string& why) {
  // Partial writes and a moving buffer: splice() retries a write from a copy of what was left.
  SSL_set_mode(
      ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_options(ssl_, SSL_OP_NO_RENEGOTIATION);
  if (SSL_set_fd(ssl_, sock_.native_handle()) != 1) {
    why = openssl_error();
    co_return false;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) co_return true;
    int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (!co_await wait(e == SSL_ERROR_WANT_READ ? Io::want_read : Io::want_write, deadline)) {
        why = "TLS handshake timed out";
        co_return false;
      }
      continue;
    }
    long verify = SSL_get_verify_result(ssl_);
    why = verify != X509_V_OK
              ? std::string("certificate not trusted: ") + X509_verify_cert_error_string(verify)
              : openssl_error();
    co_return false;
  }
}

asio::awaitable<bool> Leg::accept_tls(ssl_ctx_st* ctx, seconds timeout, std::string& why, unsigned tickets) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) co_return false;
  SSL_set_accept_state(ssl_);
  SSL_set_num_tickets(ssl_, tickets);  // for a client that never resumes, tickets only cost bytes
  co_return co_await handshake(timeout, why);
}

asio::awaitable<bool> Leg::connect_tls(ssl_ctx_st* ctx, const std::string& host, seconds timeout,
                                       std::string& why, TlsSessionCache* sessions) {
  ssl_ = SSL_new(ctx);
  if (!ssl_) co_return false;
  if (sessions) {
    boost::system::error_code pec;
    const auto peer = sock_.remote_endpoint(pec);
    sessions->prepare(ssl_, host + ":" + std::to_string(peer.port()));
  }
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) {
    SSL_set_tlsext_host_name(ssl_, host.c_str());  // SNI is for names only (RFC 6066 3)
    SSL_set1_host(ssl_, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  }
  SSL_set_verify(ssl_, SSL_VERIFY_PEER, nullptr);
  SSL_set_connect_state(ssl_);
  co_return co_await handshake(timeout, why);
}

bool Leg::resumed() const {
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

asio::awaitable<std::optional<std::string>> Leg::read_line(std::string& buf, std::size_t max,
                                                           seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  char chunk[512];
  for (;;) {
    if (auto nl = buf.find("\r\n"); nl != std::string::npos) {
      auto line = buf.substr(0, nl);
      buf.erase(0, nl + 2);
      co_return line;
    }
    if (buf.size() >= max) co_return std::nullopt;
    std::size_t n = 0;
    auto r = read(chunk, sizeof chunk, n);
    if (r == Io::done) {
      buf.append(chunk, n);
    } else if (r == Io::want_read || r == Io::want_write) {
      if (!co_await wait(r, deadline)) co_return std::nullopt;
    } else {
      co_return std::nullopt;
    }
  }
}

asio::awaitable<bool> Leg::write_all(const std::string& data, seconds timeout) {
  const bool sent = co_await write_all(data.data(), data.size(), timeout);
  co_return sent;
}

asio::awaitable<bool> Leg::write_all(const char* p, std::size_t len, seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::size_t done = 0;
  while (done < len) {
    std::size_t n = 0;
    auto r = write(p + done, len - done, n);
    if (r == Io::done) {
      done += n;
    } else if (r == Io::want_read || r == Io::want_write) {
      if (!co_await wait(r, deadline)) co_return false;
    } else {
      co_return false;
    }
  }
  co_return true;
}

asio::awaitable<Leg::Io> Leg::read_some(char* p, std::size_t cap, std::size_t& n, seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto r = read(p, cap, n);
    if (r != Io::want_read && r != Io::want_write) co_return r;
    const bool ready = co_await wait(r, deadline);
    if (!ready) co_return is_open() ? Io::timed_out : Io::failed;
  }
}

asio::awaitable<bool> Leg::leave_tls(std::string& before, std::size_t max, seconds timeout) {
  if (!ssl_) co_return true;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // our close_notify
  const auto deadline = Clock::now() + timeout;
  char chunk[4096];
  for (;;) {
    std::size_t n = 0;
    auto r = read(chunk, sizeof chunk, n);
    if (r == Io::done) {
      if (before.size() + n > max) co_return false;
      before.append(chunk, n);
    } else if (r == Io::eof) {
      break;  // the peer's close_notify: OpenSSL read no further (no read-ahead), the rest is plain
    } else if (r == Io::want_read || r == Io::want_write) {
      if (!co_await wait(r, deadline)) co_return false;
    } else {
      co_return false;
    }
  }
  SSL_free(ssl_);  // the socket BIO does not own the descriptor (BIO_NOCLOSE)
  ssl_ = nullptr;
  co_return true;
}

}  // namespace mobix::net
