#pragma once
// The embedded authoritative DNS server (seed 002: the home and visited "DNS server"): UDP with
// one socket per thread (SO_REUSEPORT) and TCP (RFC 7766) on the same port, answering from a
// ZoneSet on its own threads so query load never delays RADIUS.
#include <memory>

#include "codec/dns/zone.hpp"
#include "core/net.hpp"

namespace mobix::dns {

class DnsServer {
 public:
  DnsServer(Endpoint listen, unsigned threads, const ZoneSet& zones);
  ~DnsServer();
  /// Binds UDP and TCP (throws when it cannot) and starts the threads.
  void start();
  void stop();
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix::dns
