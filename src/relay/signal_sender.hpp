#pragma once
// Seed 001 step D at the relay: a sealed access request signal goes to the gateway as a binary SMS
// (one kept SMPP transmitter bind), an e-mail (one kept SMTP session) or an HTTPS POST to the
// gateway's webhook (kept-alive connections). Signals cost the operator money: the caller decides
// whether one is due (relay_links.hpp), and a signal nobody waits for any more when its turn comes
// is not sent.
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/config.hpp"

namespace mobix {

enum class SignalOutcome { sent, failed, abandoned };
const char* to_string(SignalOutcome o);

class SignalSender {
 public:
  SignalSender(boost::asio::io_context& io, const RelayConfig& cfg);
  ~SignalSender();
  void start();
  void stop();
  /// Sends `sealed` over the configured channel; `wanted` is asked right before it goes.
  boost::asio::awaitable<SignalOutcome> send(std::vector<std::uint8_t> sealed, std::uint64_t id,
                                             std::function<bool()> wanted);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
