#pragma once
// RADIUS over TLS (RadSec, RFC 6614) between roaming partners: seed 002's "private network"
// between the visited network's VLR and the home network's HLR, mutually authenticated with
// X.509 certificates and pinned per partner (name or SHA-256), the way eduroam and operators
// route roaming authentication today. TLS 1.2+; the RADIUS secret is "radsec" (RFC 6614 2.3).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "codec/radius/radius.hpp"
#include "core/config.hpp"
#include "core/net.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix::roaming {

using Bytes = std::vector<std::uint8_t>;

/// The home side: accepts partners' RadSec connections and hands each request to `handler`
/// with the partner its certificate matched; `reply` sends the response on that connection.
class RadsecServer {
 public:
  using Reply = std::function<void(Bytes)>;
  using Handler = std::function<void(const RoamingPartnerConfig& partner, Bytes request, Reply reply)>;
  RadsecServer(boost::asio::io_context& io, const RoamingConfig& cfg, Handler handler);
  ~RadsecServer();
  void start();  ///< binds radsec_listen; throws on failure
  void stop();
  Endpoint local_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// The visited side: one long-lived RadSec connection to a partner's server, opened on first
/// use and re-opened after a failure; requests are multiplexed by Identifier (RFC 6614 2.5).
class RadsecClient {
 public:
  RadsecClient(boost::asio::io_context& io, const RoamingConfig& cfg, const RoamingPartnerConfig& partner);
  ~RadsecClient();
  /// Sends `request` (Identifier chosen here; `pap_password`, when not empty, hidden as
  /// User-Password; Message-Authenticator added to Access-Requests) and returns the partner's
  /// verified answer, or nullopt on timeout, connection failure or a forged answer.
  boost::asio::awaitable<std::optional<radius::Packet>> exchange(radius::Packet request,
                                                                 std::string pap_password);
  const RoamingPartnerConfig& partner() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix::roaming
