#pragma once
// One leg of a tunnel (seed 001 steps G-I): the client's or the terminal's plain TCP connection,
// or the TLS callback connection between gateway and relay. TLS runs on the socket itself
// (OpenSSL's socket BIO, not asio::ssl::stream): no copy through a BIO pair, OpenSSL's record
// buffers released while the tunnel is idle (SSL_MODE_RELEASE_BUFFERS), and a one-way
// close_notify, so a half-close crosses the TLS leg like a FIN crosses a TCP leg.
// `splice` then moves bytes both ways without per-tunnel buffers: when both legs are plain TCP
// with splice(2) through pipes borrowed per thread while data flows (zero-copy), otherwise it
// waits until a leg is readable and copies through one buffer per thread.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

struct ssl_st;
struct ssl_ctx_st;

namespace mobix::net {

class TlsSessionCache;

class Leg {
 public:
  using seconds = std::chrono::seconds;
  /// What a read or write did; `timed_out` only from the awaitable calls.
  enum class Io { done, want_read, want_write, eof, failed, timed_out };
  explicit Leg(boost::asio::ip::tcp::socket s);
  /// Takes `s` as this leg's connection (one connected after the leg was made), set up as above.
  void adopt(boost::asio::ip::tcp::socket s);
  ~Leg();
  Leg(const Leg&) = delete;
  Leg& operator=(const Leg&) = delete;

  /// TLS server handshake (the relay's callback port). False on failure, `why` says what failed.
  /// `tickets`: TLS 1.3 session tickets sent after it (0: the client never resumes).
  boost::asio::awaitable<bool> accept_tls(ssl_ctx_st* ctx, seconds timeout, std::string& why,
                                          unsigned tickets = 0);
  /// TLS client handshake; the chain is verified by `ctx` and the certificate must match `host`
  /// (a DNS name, also sent as SNI, or an IP address: RFC 6125). With `sessions`, a kept ticket
  /// for this server (host and port) is offered, and the server's new tickets are kept there.
  boost::asio::awaitable<bool> connect_tls(ssl_ctx_st* ctx, const std::string& host, seconds timeout,
                                           std::string& why, TlsSessionCache* sessions = nullptr);
  /// The handshake resumed a session (no certificate was sent or verified on it).
  bool resumed() const;
  /// One CRLF-terminated line without the CRLF; what follows it stays in `buf`.
  boost::asio::awaitable<std::optional<std::string>> read_line(std::string& buf, std::size_t max,
                                                               seconds timeout);
  boost::asio::awaitable<bool> write_all(const std::string& data, seconds timeout);
  boost::asio::awaitable<bool> write_all(const char* p, std::size_t len, seconds timeout);
  /// Up to `cap` octets as soon as any arrive (`done`, `n` > 0), or eof, failed or timed_out.
  boost::asio::awaitable<Io> read_some(char* p, std::size_t cap, std::size_t& n, seconds timeout);
  /// A TCP close without close_notify reads as EOF instead of a failure: for protocols that end
  /// their own messages (POP3, IMAP, SMTP), where servers often skip the close_notify.
  void tolerate_truncation();
  /// Leaves TLS but keeps the TCP connection: sends our close_notify, reads what the peer still
  /// sends up to its close_notify (into `before`, at most `max` octets), then the leg is plain TCP.
  /// Both ends call it (tls_passthrough tunnels: what follows is TLS end to end already).
  boost::asio::awaitable<bool> leave_tls(std::string& before, std::size_t max, seconds timeout);
  bool tls() const { return ssl_ != nullptr; }
  /// TLS reads take all the socket has (not a record header, then its body): for a connection
  /// that never leaves TLS (the multiplexed link), where bytes past a close_notify cannot matter.
  void read_ahead();

  /// Non-blocking primitives for `splice`.
  Io read(char* p, std::size_t cap, std::size_t& n);
  Io write(const char* p, std::size_t len, std::size_t& n);
  /// End of data this way: FIN, after a close_notify on TLS. Reading goes on.
  void shutdown_send();
  /// Aborts the connection with a TCP reset, so the peer learns it was not a clean end.
  void reset();
  void close();
  bool is_open() const;
  boost::asio::ip::tcp::socket& socket() { return sock_; }

 private:
  boost::asio::awaitable<bool> handshake(seconds timeout, std::string& why);
  boost::asio::awaitable<bool> wait(Io want, std::chrono::steady_clock::time_point deadline);
  boost::asio::ip::tcp::socket sock_;
  ssl_st* ssl_ = nullptr;
};

struct SpliceBytes {
  std::uint64_t a_to_b = 0, b_to_a = 0;
  bool timed_out = false;      ///< ended by `idle` without traffic or by `total`
  bool total_reached = false;  ///< of those, ended by `total`
  bool zero_copy = false;      ///< both legs plain TCP: splice(2)
};
/// Copies both ways until both directions ended (EOF is passed on as a half-close, a reset or
/// an error resets both legs), after `idle` without traffic, or after `total`.
boost::asio::awaitable<SpliceBytes> splice(Leg& a, Leg& b, std::chrono::seconds idle,
                                           std::chrono::seconds total);

}  // namespace mobix::net
