#pragma once
// The POP3 proxy of seed 000 (steps 101-106): the handset logs in with the default settings
// every handset ships with; mobix recognises the subscriber by the connection's source IP
// (access sessions), logs in to the subscriber's real POP3 server with the credentials from
// the directory, then relays the stream unmodified in both directions.
#include <memory>

#include "core/config.hpp"
#include "core/net.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class SessionTable;
class Directory;

class Pop3Proxy {
 public:
  Pop3Proxy(boost::asio::io_context& io, const MailConfig& cfg, SessionTable& sessions, Directory& dir);
  ~Pop3Proxy();
  /// Binds (throws on failure) and starts accepting.
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
