#pragma once
// One line-oriented connection (below the roles): an accepted client connection (a handset, a relay
// signal sender) or an outgoing one (the subscriber's mail server, an SMTP peer), plain TCP or TLS (implicit,
// or upgraded by STARTTLS/STLS). Every operation has its own timeout. It is a Leg underneath (TLS on the
// socket, no buffers of its own while idle), so the OpenSSL headers stay out of the proxies.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/net.hpp"
#include "net/tls_context.hpp"
#include "net/tunnel_leg.hpp"

namespace boost::asio::ssl {
class context;
}

namespace mobix::net {

/// How mobix talks TLS to a subscriber's mail server (the profile's `mail.<proto>_tls`).
enum class TlsMode { none, implicit, starttls };
/// "none" | "tls" | "starttls"; nullopt for anything else.
std::optional<TlsMode> parse_tls_mode(const std::string& s);
const char* to_string(TlsMode m);

class Conn {
 public:
  using seconds = std::chrono::seconds;
  using error_code = boost::system::error_code;

  explicit Conn(boost::asio::ip::tcp::socket accepted);
  explicit Conn(const boost::asio::any_io_executor& ex);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  /// Resolves `host` (a name or an address) and connects to the first address that answers.
  boost::asio::awaitable<error_code> connect(const Endpoint& to, seconds timeout);
  /// TLS client handshake over the connected socket; the certificate chain is verified against
  /// `ctx` and the name (or IP) against `host`, which is also sent as SNI (RFC 6066).
  /// On failure `why` says what went wrong (e.g. the verification error).
  boost::asio::awaitable<error_code> start_tls(boost::asio::ssl::context& ctx, const std::string& host,
                                               seconds timeout, std::string& why);
  /// TLS server handshake on an accepted connection (the relay's callback port).
  boost::asio::awaitable<error_code> accept_tls(boost::asio::ssl::context& ctx, seconds timeout);
  /// Errors: boost::beast::error::timeout when nothing came in `timeout`, asio::error::eof at the
  /// peer's end of data, connection_reset for anything else.
  boost::asio::awaitable<std::pair<error_code, std::size_t>> read_some(boost::asio::mutable_buffer b,
                                                                       seconds timeout);
  boost::asio::awaitable<error_code> write(boost::asio::const_buffer b, seconds timeout);
  /// Signals end of data: a half-close (FIN; on TLS after our close_notify). Reading goes on.
  void shutdown_send();
  /// Closes the socket: pending operations end with an error.
  void close();
  bool secure() const;
  boost::asio::ip::tcp::socket& socket();
  /// The connection itself, for `splice` once a proxy only relays bytes (tunnel_leg.hpp).
  Leg& leg();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

enum class UpstreamOpen { ok, unreachable, tls_failed };
/// Connects to a subscriber's mail server and, for implicit TLS, completes the handshake.
/// STARTTLS is protocol-specific: the proxy negotiates it, then calls `start_tls`.
boost::asio::awaitable<UpstreamOpen> open_upstream(Conn& c, const Endpoint& to, TlsMode mode,
                                                   boost::asio::ssl::context& ctx,
                                                   std::chrono::seconds timeout, std::string& why);

/// One CRLF-terminated line without its CRLF, or nullopt on EOF, error, timeout or a line
/// longer than `max` (then `buf` holds at least `max` octets).
boost::asio::awaitable<std::optional<std::string>> read_line(Conn& c, std::string& buf, std::size_t max,
                                                             std::chrono::seconds timeout);
/// Makes `buf` hold at least `n` octets; false on EOF, error or timeout.
boost::asio::awaitable<bool> read_at_least(Conn& c, std::string& buf, std::size_t n,
                                           std::chrono::seconds timeout);
/// Appends what the peer has sent (at most `room` octets) to `buf`; false on EOF, error or timeout
/// before any octet.
boost::asio::awaitable<bool> read_more(Conn& c, std::string& buf, std::size_t room,
                                       std::chrono::seconds timeout);
boost::asio::awaitable<bool> write_all(Conn& c, std::string data, std::chrono::seconds timeout);

}  // namespace mobix::net
