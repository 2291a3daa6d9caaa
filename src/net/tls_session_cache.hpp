#pragma once
// TLS session resumption for a client that dials the same few servers again and again: the
// gateway's legs and links to the relay (issue 17 item 1). The server's TLS 1.3 tickets (RFC 8446
// 4.6.1) are kept per server and each is offered once (RFC 8446 C.4: a ticket used twice links the
// two connections for an observer), the newest first. A resumed handshake skips the certificate,
// its signature and the chain verification; the key exchange stays ephemeral (psk_dhe_ke), so
// forward secrecy is kept. The server's identity was verified on the full handshake whose ticket
// is offered, and tickets are filed under the server they came from.
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

namespace mobix::net {

class TlsSessionCache {
 public:
  /// Installs itself on the client context `ctx` (which must outlive neither this nor its SSLs).
  explicit TlsSessionCache(ssl_ctx_st* ctx, std::size_t per_server = 8);
  ~TlsSessionCache();
  TlsSessionCache(const TlsSessionCache&) = delete;
  TlsSessionCache& operator=(const TlsSessionCache&) = delete;

  /// Before the handshake of `ssl` to `server` ("host:port"): offers a kept ticket, if any, and
  /// files the tickets this connection receives under `server`.
  void prepare(ssl_st* ssl, const std::string& server);
  /// Tickets kept for `server`.
  std::size_t kept(const std::string& server) const;

 private:
  static int on_new_session(ssl_st* ssl, ssl_session_st* session);
  void keep(const std::string& server, ssl_session_st* session);

  using Session = std::unique_ptr<ssl_session_st, void (*)(ssl_session_st*)>;
  ssl_ctx_st* ctx_;
  std::size_t per_server_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::deque<Session>> kept_;  ///< newest at the front
};

}  // namespace mobix::net
