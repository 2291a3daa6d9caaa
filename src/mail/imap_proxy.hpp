#pragma once
// The IMAP proxy (RFC 9051/3501): today's handsets use IMAP; seed 000's logic applies
// unchanged. The handset's LOGIN/AUTHENTICATE is accepted and ignored; mobix recognises the
// subscriber by source IP, logs in to the subscriber's IMAP server with the credentials from
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

class ImapProxy {
 public:
  ImapProxy(boost::asio::io_context& io, const MailConfig& cfg, SessionTable& sessions, Directory& dir);
  ~ImapProxy();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
