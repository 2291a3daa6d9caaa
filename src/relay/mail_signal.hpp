#pragma once
// Seed 001 step D by e-mail: the relay submits each access request signal as one message over a
// kept SMTP session (RFC 5321; STARTTLS RFC 3207; AUTH PLAIN RFC 4954), and the gateway receives
// it with a small SMTP server for its one address. The message format is codec/signal/signal_mail.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class MailSignalSender {
 public:
  MailSignalSender(const boost::asio::any_io_executor& ex, const RelayEmailConfig& cfg);
  ~MailSignalSender();
  /// One message on the kept session, opened (EHLO, STARTTLS, AUTH) when there is none. Returns
  /// empty on success, else which step failed and why; the session is then dropped.
  boost::asio::awaitable<std::string> send(std::vector<std::uint8_t> sealed);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class MailSignalReceiver {
 public:
  /// Called with each extracted signal and the SMTP client's address; true when admitted.
  using Admit = std::function<bool(const std::vector<std::uint8_t>& sealed, const std::string& client_ip)>;
  MailSignalReceiver(boost::asio::io_context& io, const GatewayEmailConfig& cfg, Admit admit);
  ~MailSignalReceiver();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
