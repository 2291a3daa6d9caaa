#pragma once
// Where a SIP message came from and where its answer goes (RFC 3261 18): a UDP address, or the TCP
// connection it arrived on. A phone that registered over TCP is called over that connection, so it
// is reachable behind its own NAT or firewall as long as it keeps the connection open (RFC 5626's
// idea, without its Path and instance machinery).
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "net/conn.hpp"

namespace mobix::telephony {

/// One SIP connection accepted on the call listener's TCP port. Writes are queued and go out in
/// order, each with its own deadline; a write that fails closes the connection.
class SipStream : public std::enable_shared_from_this<SipStream> {
 public:
  explicit SipStream(boost::asio::ip::tcp::socket accepted);
  /// Queues `text`; false when the connection is closed (nothing is sent).
  bool send(std::string text);
  void close();
  bool is_open() const { return open_; }
  bool secure() const { return conn_.secure(); }  ///< SIP over TLS (RFC 3261 26.2)
  net::Conn& conn() { return conn_; }

 private:
  boost::asio::awaitable<void> write_queue();
  net::Conn conn_;
  std::deque<std::string> out_;
  bool writing_ = false;
  bool open_ = true;
};

struct SipPeer {
  boost::asio::ip::udp::endpoint address;  ///< the other side's address and port (for TCP: the connection's)
  std::shared_ptr<SipStream> stream;       ///< the connection, or null for UDP
  const char* transport() const { return !stream ? "UDP" : stream->secure() ? "TLS" : "TCP"; }
  /// The URI parameter that reaches this peer over its connection ("" over UDP, the default).
  std::string uri_transport() const {
    return !stream ? "" : stream->secure() ? ";transport=tls" : ";transport=tcp";
  }
  std::string host() const { return address.address().to_string(); }
  bool operator==(const SipPeer& o) const { return address == o.address && stream == o.stream; }
};

}  // namespace mobix::telephony
