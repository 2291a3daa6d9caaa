#pragma once
// Internal to src/mail: wraps one proxy (a type with `session(socket, id)`) in a TcpService
// that keeps it alive for as long as connections may use it.
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "core/config.hpp"
#include "core/tcp_service.hpp"
#include "mail/access_identity.hpp"
#include "mail/mail_proxies.hpp"
#include "net/conn.hpp"
#include "net/failure_limiter.hpp"

namespace mobix {
class SessionView;
class Directory;
}  // namespace mobix

namespace mobix::mail {

/// What every mail proxy's sessions share: the config, the session table, the directory, the
/// per-IP failure limiter and the TLS context for the subscribers' servers.
struct ProxyBase {
  boost::asio::io_context& io;
  const MailConfig& cfg;
  SessionView& sessions;
  Directory& dir;
  boost::asio::thread_pool& directory_pool;
  net::FailureLimiter failures;
  std::shared_ptr<boost::asio::ssl::context> tls;

  explicit ProxyBase(const MailShared& s)
      : io(s.io),
        cfg(s.cfg),
        sessions(s.sessions),
        dir(s.dir),
        directory_pool(s.directory_pool),
        failures(s.cfg.max_failures_per_minute),
        tls(net::make_client_tls_context(s.cfg.upstream_ca_file)) {}
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
