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

  struct Result {
    int status = 0;           ///< 0: no response (the connection failed)
    bool keep_alive = false;  ///< the connection can carry the next request
    std::string error;        ///< why there was no response
  };
  /// One POST; the response's body (at most 64 KiB) is read and dropped. Arguments by value: a
  /// coroutine keeps references past the caller's full expression.
  boost::asio::awaitable<Result> post(std::string target, std::string host_header, std::string content_type,
                                      std::string body, std::chrono::seconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::net
