#pragma once
// The mail role's listeners (seed 000). Each recognises the handset only by its source IP
// through the access sessions, and only inside `access_ranges`; logs in to the subscriber's
// real server with the credentials from the directory; then relays (POP3/IMAP) or relays with
// the sender rewritten (SMTP). Each returns a TcpService to start, stop and drain.
#include <memory>

#include "core/config.hpp"
#include "core/tcp_service.hpp"

namespace boost::asio {
class thread_pool;
}

namespace mobix {

class SessionView;
class Directory;
namespace mail {
class LiveConnections;
}

/// What the mail role's proxies share: its config, the spine, and the role's small thread pool on
/// which a directory whose lookups block (LDAP) is asked, so the event loop never waits on it.
struct MailShared {
  boost::asio::io_context& io;
  const MailConfig& cfg;
  SessionView& sessions;
  Directory& dir;
  boost::asio::thread_pool& directory_pool;
  mail::LiveConnections& live;  ///< handset connections by address, closed when its session ends
};

/// POP3 (RFC 1939/2449), seed 000 steps 101-106.
std::unique_ptr<TcpService> make_pop3_proxy(const MailShared& shared);
/// IMAP (RFC 9051/3501): today's handsets; the seed's logic unchanged.
std::unique_ptr<TcpService> make_imap_proxy(const MailShared& shared);
/// SMTP submission (RFC 5321/6409), seed 000 steps 201-207.
std::unique_ptr<TcpService> make_smtp_proxy(const MailShared& shared);

}  // namespace mobix
