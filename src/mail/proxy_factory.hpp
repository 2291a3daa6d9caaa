#pragma once
// Internal to src/mail: wraps one proxy (a type with `session(socket, id)`) in a TcpService
// that keeps it alive for as long as connections may use it.
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "core/config.hpp"
#include "core/tcp_service.hpp"
#include "mail/access_identity.hpp"
#include "mail/conn.hpp"

namespace mobix {
class SessionTable;
class Directory;
}  // namespace mobix

namespace mobix::mail {

/// What every mail proxy's sessions share: the config, the session table, the directory, the
/// per-IP failure limiter and the TLS context for the subscribers' servers.
struct ProxyBase {
  boost::asio::io_context& io;
  const MailConfig& cfg;
  SessionTable& sessions;
  Directory& dir;
  FailureLimiter failures;
  std::shared_ptr<boost::asio::ssl::context> tls;

  ProxyBase(boost::asio::io_context& io_, const MailConfig& c, SessionTable& s, Directory& d)
      : io(io_),
        cfg(c),
        sessions(s),
        dir(d),
        failures(c.max_failures_per_minute),
        tls(make_client_tls_context(c.upstream_ca_file)) {}
};

template <typename Proxy>
std::unique_ptr<TcpService> serve_proxy(boost::asio::io_context& io, const std::string& name,
                                        const Endpoint& listen, const MailConfig& cfg, SessionTable& sessions,
                                        Directory& dir) {
  auto proxy = std::make_shared<Proxy>(io, cfg, sessions, dir);
  return std::make_unique<TcpService>(io, name, listen,
                                      [proxy](boost::asio::ip::tcp::socket sock, std::uint64_t id) {
                                        return proxy->session(std::move(sock), id);
                                      });
}

}  // namespace mobix::mail
