#pragma once
// The SMTP submission proxy of seed 000 (steps 201-207): the handset sends with its default
// settings; mobix recognises the subscriber by source IP, logs in to the subscriber's real
// submission server, replaces the default sender in MAIL FROM and in the From: header with
// the subscriber's address and full name, and relays everything else unchanged.
#include <memory>

#include "core/config.hpp"
#include "core/net.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class SessionTable;
class Directory;

class SmtpProxy {
 public:
  SmtpProxy(boost::asio::io_context& io, const MailConfig& cfg, SessionTable& sessions, Directory& dir);
  ~SmtpProxy();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
