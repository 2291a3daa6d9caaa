// A tunnel leg's non-blocking primitives (tunnel_leg.hpp): what `splice` and the multiplexed link
// call on a ready socket, TLS or plain. The awaitable calls (handshakes, lines, leaving TLS) are in
// tunnel_leg.cpp.
#include <sys/socket.h>
#include <cerrno>
#include <climits>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/tunnel_leg.hpp"

namespace mobix::net {

namespace asio = boost::asio;
using asio::ip::tcp;

Leg::Leg(tcp::socket s) : sock_(s.get_executor()) {
  adopt(std::move(s));
}

void Leg::adopt(tcp::socket s) {
  sock_ = std::move(s);
  boost::system::error_code ignore;
  sock_.set_option(tcp::no_delay(true), ignore);
  sock_.native_non_blocking(true, ignore);
}

Leg::~Leg() {
  if (ssl_) SSL_free(ssl_);
}

bool Leg::is_open() const {
  return sock_.is_open();
}

Leg::Io Leg::read(char* p, std::size_t cap, std::size_t& n) {
  n = 0;
  if (!ssl_) {
    for (;;) {
      auto r = ::recv(sock_.native_handle(), p, cap, 0);
      if (r > 0) {
        n = static_cast<std::size_t>(r);
        return Io::done;
      }
      if (r == 0) return Io::eof;
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Io::want_read : Io::failed;
    }
  }
  ERR_clear_error();
  int r = SSL_read(ssl_, p, static_cast<int>(std::min<std::size_t>(cap, INT_MAX)));
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return Io::done;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_READ:
      return Io::want_read;
    case SSL_ERROR_WANT_WRITE:
      return Io::want_write;
    case SSL_ERROR_ZERO_RETURN:
      return Io::eof;  // close_notify: the other side's half-close
    default:
      return Io::failed;  // a reset, or the TCP connection ended without close_notify (truncation)
  }
}

Leg::Io Leg::write(const char* p, std::size_t len, std::size_t& n) {
  n = 0;
  if (!ssl_) {
    for (;;) {
      auto r = ::send(sock_.native_handle(), p, len, MSG_NOSIGNAL);
      if (r >= 0) {
        n = static_cast<std::size_t>(r);
        return Io::done;
      }
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? Io::want_write : Io::failed;
    }
  }
  ERR_clear_error();
  int r = SSL_write(ssl_, p, static_cast<int>(std::min<std::size_t>(len, INT_MAX)));
  if (r > 0) {
    n = static_cast<std::size_t>(r);
    return Io::done;
  }
  switch (SSL_get_error(ssl_, r)) {
    case SSL_ERROR_WANT_WRITE:
      return Io::want_write;
    case SSL_ERROR_WANT_READ:
      return Io::want_read;
    default:
      return Io::failed;
  }
}

void Leg::read_ahead() {
  if (ssl_) SSL_set_read_ahead(ssl_, 1);
}

void Leg::shutdown_send() {
  if (!sock_.is_open()) return;
  if (ssl_) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // sends our close_notify only; the peer's arrives later as EOF (RFC 8446 6.1)
  }
  boost::system::error_code ignore;
  sock_.shutdown(tcp::socket::shutdown_send, ignore);
}

void Leg::reset() {
  if (!sock_.is_open()) return;
  boost::system::error_code ignore;
  sock_.set_option(asio::socket_base::linger(true, 0), ignore);  // close() sends RST
  sock_.close(ignore);
}

void Leg::close() {
  boost::system::error_code ignore;
  sock_.close(ignore);
}

void Leg::tolerate_truncation() {
  if (ssl_) SSL_set_options(ssl_, SSL_OP_IGNORE_UNEXPECTED_EOF);
}

}  // namespace mobix::net
