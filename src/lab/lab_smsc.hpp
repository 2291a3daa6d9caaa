#pragma once
// The lab's SMSC: a stand-in for the operator's SMS centre, because none is reachable here (and
// no SMPP server is packaged for Debian). It speaks SMPP 3.4 as a server: binds checked against
// configured accounts, submit_sm acknowledged with a message_id and delivered as deliver_sm to
// a receiver (or transceiver) bound with an address_range that prefixes the destination (the
// longest such range wins); held
// in memory (bounded) until such a receiver binds. Not a production SMSC: no persistence, no
// delivery receipts, no throughput control.
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/net.hpp"
#include "core/tcp_service.hpp"

namespace mobix::smpp {

struct SmscConfig {
  Endpoint listen{"127.0.0.1", 2775};
  std::map<std::string, std::string> accounts;  ///< system_id -> password
  std::size_t max_queued = 1000;                ///< messages waiting for a receiver
};

class LabSmsc {
 public:
  LabSmsc(boost::asio::io_context& io, SmscConfig cfg);
  ~LabSmsc();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::unique_ptr<TcpService> service_;
};

}  // namespace mobix::smpp
