#pragma once
// A kept-alive HTTPS/1.1 client connection on Beast (the relay's webhook client, seed 001 step D):
// the server's certificate is verified against the context and the host name (SNI for names), every
// operation has a deadline, and the response is parsed by Beast with a small body limit.
#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/net.hpp"

namespace boost::asio::ssl {
class context;
}
struct ssl_session_st;
struct x509_st;

namespace mobix::net {

class HttpsConnection {
 public:
  explicit HttpsConnection(const boost::asio::any_io_executor& ex);
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  /// Connects to `to` and completes TLS, the certificate checked against `ctx` and `to.host`.
  /// False on failure, with `why`.
  boost::asio::awaitable<bool> connect(const Endpoint& to, boost::asio::ssl::context& ctx,
                                       std::chrono::seconds timeout, std::string& why);
  /// As connect(), but the server's certificate is only checked against the context's CA (and CRL),
  /// not against a host name: for peers named by what their certificate says, which the caller then
  /// checks in peer_certificate() (seed 004: a box reached at its temporary address proves its serial).
  /// `resume`, when set, is offered for a shorter handshake (seed 004 variants); `source`, when set,
  /// is the local address to connect from (a device calls from the address its access session got).
  boost::asio::awaitable<bool> connect_verified_chain(const Endpoint& to, boost::asio::ssl::context& ctx,
                                                      std::chrono::seconds timeout, std::string& why,
                                                      std::shared_ptr<ssl_session_st> resume = nullptr,
                                                      std::string source = {});
  /// The server's verified certificate after connect (owned by the connection), or null.
  x509_st* peer_certificate() const;
  /// True when the last handshake resumed a session.
  bool resumed() const;
  /// The session to offer next time (TLS 1.3 sends it after the handshake: ask after a response).
  std::shared_ptr<ssl_session_st> session() const;

  struct Result {
    int status = 0;           ///< 0: no response (the connection failed)
    bool keep_alive = false;  ///< the connection can carry the next request
    std::string error;        ///< why there was no response
  };
  /// One POST; the response's body (at most 64 KiB) is read and dropped. Arguments by value: a
  /// coroutine keeps references past the caller's full expression.
  boost::asio::awaitable<Result> post(std::string target, std::string host_header, std::string content_type,
                                      std::string body, std::chrono::seconds timeout);
  struct Response {
    int status = 0;  ///< 0: no response (the connection failed)
    std::string body;
    std::string error;
    std::string www_authenticate;  ///< the WWW-Authenticate field (HTTP Negotiate's mutual authentication)
    bool keep_alive = false;       ///< the connection can carry the next request
  };
  /// One request whose response body (at most `body_limit` bytes) is returned; `authorization`, when
  /// set, is sent as the Authorization field.
  boost::asio::awaitable<Response> request(std::string method, std::string target, std::string host_header,
                                           std::string content_type, std::string body,
                                           std::chrono::seconds timeout, std::size_t body_limit = 256 << 10,
                                           std::string authorization = {});
  /// Closes the connection (TLS close_notify, bounded by `timeout`).
  boost::asio::awaitable<void> close(std::chrono::seconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::net
