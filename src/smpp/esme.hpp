#pragma once
// An SMPP 3.4 client (ESME): how the relay submits the access request signal to the operator's
// SMSC (submit_sm) and how the gateway, bound as a receiver, gets it back (deliver_sm) — seed
// 001 step D. Requests are sequential (one outstanding at a time); while waiting, the client
// answers the SMSC's enquire_link and acknowledges deliver_sm.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "codec/smpp/smpp.hpp"
#include "core/net.hpp"

namespace mobix::smpp {

enum class BindMode { transmitter, receiver, transceiver };

struct EsmeConfig {
  Endpoint smsc;
  std::string system_id;
  std::string password;  ///< never logged
  std::string system_type;
  BindMode mode = BindMode::transmitter;
  std::string address_range;  ///< receivers: the destination addresses routed to this bind
  std::chrono::seconds timeout{10};
};

/// The outcome of a bind or a request (DESIGN.md: the data plane returns results, it does not
/// throw): ok, or what failed, with the SMPP command_status (0 for I/O failures).
struct SmppResult {
  std::string error;  ///< empty: ok
  std::uint32_t status = 0;
  std::string message_id;  ///< submit: the SMSC's message_id
  explicit operator bool() const { return error.empty(); }
};

class Esme {
 public:
  using DeliverHandler = std::function<void(const ShortMessage&)>;
  Esme(boost::asio::any_io_executor ex, EsmeConfig cfg);
  ~Esme();

  /// Connects and binds (a refusal carries its status, e.g. 0x0E for a wrong password).
  boost::asio::awaitable<SmppResult> bind();
  /// submit_sm; on success the result carries the SMSC's message_id.
  boost::asio::awaitable<SmppResult> submit(ShortMessage m);
  /// Receives until `count` deliver_sm arrived (0: until the connection closes), acknowledging
  /// each and answering enquire_link. Returns how many arrived.
  boost::asio::awaitable<std::size_t> receive(DeliverHandler on_deliver, std::size_t count = 0);
  /// enquire_link round trip.
  boost::asio::awaitable<SmppResult> enquire_link();
  boost::asio::awaitable<void> unbind();
  /// Closes the connection at once (pending operations end); for shutdown.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::smpp
