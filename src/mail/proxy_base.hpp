#pragma once
// Internal to src/mail: the skeleton every mail proxy (POP3, IMAP, SMTP) runs its sessions on.
// A session moves through explicit states (SessionState); the steps every protocol shares live
// here — admission (access ranges, the per-address failure limit), identification (seed 000 steps
// 102-103 / 202-203: IP -> session -> subscriber -> mail account), refusals (one counter, one log
// line and the protocol's reply each), and the relay after login with its accounting — so each
// protocol keeps only its replies, its pre-login commands and its upstream login.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "mail/access_identity.hpp"
#include "mail/live_connections.hpp"
#include "mail/mail_profile.hpp"
#include "mail/mail_proxies.hpp"
#include "net/conn.hpp"
#include "net/failure_limiter.hpp"

namespace mobix {
class SessionView;
class Directory;
}  // namespace mobix

namespace mobix::mail {

/// Where a proxied session is. POP3 and IMAP go through every state in order; SMTP identifies and
/// opens its upstream per transaction (at MAIL FROM) and relays messages with the sender rewritten.
enum class SessionState {
  admitting,
  awaiting_login,
  identifying,
  opening_upstream,
  logging_in,
  relaying,
  done
};
const char* to_string(SessionState s);

/// Why a session did not reach the mailbox: the `reason` label of mobix_mail_<proto>_failures_total.
enum class Refusal {
  outside_access_range,
  rate_limited,
  no_session,
  directory_unavailable,
  no_mail_account,
  upstream_tls_failed,
  upstream_unreachable,
  upstream_rejected_credentials,
};
const char* to_string(Refusal r);

/// What a protocol says: its name (logs, metrics) and its reply for each refusal (`tag`: IMAP's).
struct ProtocolText {
  const char* name;
  std::string (*refusal)(Refusal r, const std::string& tag);
};

/// The subscriber behind a connection and the account the protocol logs in to.
struct Identified {
  Identity who;
  MailProfile profile;
};

/// Where the identification and the upstream login of a POP3 or IMAP session ended.
struct Login {
  std::optional<Identified> me;  ///< logged in as this subscriber
  std::optional<Refusal> refused;
  SessionState state = SessionState::identifying;  ///< where it stopped
  std::string done;  ///< the server's answer to the login, where the protocol relays it (IMAP)
};

/// One POP3 or IMAP handset connection from accept to end: both connections and what crosses the
/// login. It lives on the heap so that the login steps run in a coroutine of their own, whose frame
/// (the subscriber's record, every step's temporaries) is freed before the long relay begins.
struct RelaySession {
  RelaySession(boost::asio::ip::tcp::socket s, boost::asio::ip::address address)
      : client(std::move(s)),
        upstream(client.socket().get_executor()),
        client_ip(address),
        ip(address.to_string()) {}
  net::Conn client;
  net::Conn upstream;
  boost::asio::ip::address client_ip;
  std::string ip;
  std::string client_buf;    ///< what the handset sent past its login command
  std::string upstream_buf;  ///< what the server sent past its login answer
  std::string msisdn;        ///< once identified
};

/// What every mail proxy's sessions share: the config, the spine, the per-address failure limiter,
/// the TLS context for the subscribers' servers, and the skeleton's steps.
struct ProxyBase {
  boost::asio::io_context& io;
  const MailConfig& cfg;
  SessionView& sessions;
  Directory& dir;
  boost::asio::thread_pool& directory_pool;
  LiveConnections& live;
  net::FailureLimiter failures;
  std::shared_ptr<boost::asio::ssl::context> tls;
  ProtocolText text;

  ProxyBase(const MailShared& s, ProtocolText t);

  /// mobix_mail_<proto>_failures_total{reason}.
  Counter& failure(const std::string& reason);
  /// A command the protocol cannot take (bad_command, line_too_long): counted and logged (at most a
  /// few lines a second per reason); the caller sends the protocol's reply.
  void protocol_error(const char* reason, std::uint64_t id, const std::string& ip);
  LogRateLimiter protocol_log{5};
  /// Counts `r` and returns the protocol's reply (the step that found `r` logged why).
  std::string refuse(Refusal r, std::uint64_t id, const std::string& detail, const std::string& tag = {});
  /// Admission: only the access network's ranges, and not an address over its failure limit.
  std::optional<Refusal> admission(const boost::asio::ip::address& client, std::uint64_t id);
  /// Steps 102-103 (202-203): the subscriber holding `ip` and its account for this protocol
  /// (`profile_of`), or the refusal (counted and logged; a missing session counts as a failure).
  boost::asio::awaitable<std::variant<Identified, Refusal>> identify_subscriber(
      std::string ip, std::uint64_t id, std::optional<MailProfile> (*profile_of)(const Subscriber&));
  /// Steps 102-104 for POP3 and IMAP: identification by the handset's address, then
  /// `open_and_login(me, login)`, the protocol's own login at the subscriber's server (it keeps
  /// `login.state` and `login.done` current and returns the refusal, if any).
  template <typename OpenAndLogin>
  boost::asio::awaitable<Login> identify_and_login(
      std::string ip, std::uint64_t id, std::optional<MailProfile> (*profile_of)(const Subscriber&),
      OpenAndLogin open_and_login) {
    Login out;
    auto found = co_await identify_subscriber(ip, id, profile_of);
    if (auto* r = std::get_if<Refusal>(&found)) {
      out.refused = *r;
      co_return out;
    }
    out.state = SessionState::opening_upstream;
    auto& me = std::get<Identified>(found);
    out.refused = co_await open_and_login(me, out);
    if (!out.refused) out.me = std::move(me);
    co_return out;
  }
  /// Steps 105-106 after the login: what either side already sent past it is forwarded, then the
  /// stream is relayed both ways until both sides are done; bytes and the time limit are counted.
  boost::asio::awaitable<void> relay_after_login(RelaySession& s, std::uint64_t id);
  /// The whole of a POP3 or IMAP session: `log_in` (the protocol's steps up to a logged-in
  /// upstream, true then) in its own frame, then the relay. The connection is tracked throughout, so
  /// it closes when its access session ends.
  template <typename Proxy>
  boost::asio::awaitable<void> run_session(Proxy& proxy, boost::asio::ip::tcp::socket sock,
                                           std::uint64_t id) {
    boost::system::error_code ec;
    auto peer = sock.remote_endpoint(ec);
    if (ec) co_return;
    auto s = std::make_unique<RelaySession>(std::move(sock), canonical(peer.address()));
    auto tracked = live.track(s->ip, [c = &s->client] { c->close(); });
    const bool logged_in = co_await proxy.log_in(*s, id);
    if (logged_in) co_await relay_after_login(*s, id);
  }
};

template <typename Proxy>
std::unique_ptr<TcpService> serve_proxy(const MailShared& shared, const std::string& name,
                                        const Endpoint& listen) {
  auto proxy = std::make_shared<Proxy>(shared);
  return std::make_unique<TcpService>(shared.io, name, listen,
                                      [proxy](boost::asio::ip::tcp::socket sock, std::uint64_t id) {
                                        return proxy->session(std::move(sock), id);
                                      });
}

}  // namespace mobix::mail
