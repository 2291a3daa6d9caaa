#pragma once
// Seed 001: reaching a mobile server behind the operator's NAT and firewall.
//   RelayRole   — the public relay: accepts clients (step C), tells the mobile server from the
//                 HTTP Host, the TLS SNI or the port (port mapping), holds the client, sends the
//                 gateway a sealed access request signal by SMS, e-mail or webhook (step D), accepts the
//                 gateway's TLS callback carrying the one-time key (step H) and splices client and callback
//                 (step I).
//   GatewayRole — the private gateway: receives signals as an SMPP receiver, by HTTPS webhook or
//                 by e-mail (its own SMTP receiver), verifies them (step E:
//                 key, expiry, replay), finds the terminal's IP in the access sessions, connects to
//                 its service port (step F), dials the relay over verified TLS (step G).
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>

#include "core/config.hpp"
#include "core/net.hpp"
#include "core/role.hpp"

namespace mobix {

class SignalReplayMemory;
class StoreWriter;

class Directory;
class SessionView;

class RelayRole final : public Role {
 public:
  RelayRole(boost::asio::io_context& io, const RelayConfig& cfg, Directory& dir);
  ~RelayRole();
  void start() override;
  void stop() override;
  bool drained() const override;
  void listeners(Listeners& out) const override;
  Endpoint public_endpoint() const;
  Endpoint callback_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

class GatewayRole final : public Role {
 public:
  /// The replay memory is kept in `repo` through `writer`, so a restart does not forget it.
  GatewayRole(boost::asio::io_context& io, const GatewayConfig& cfg, SessionView& sessions,
              SignalReplayMemory& repo, StoreWriter& writer);
  ~GatewayRole();
  void start() override;
  void stop() override;
  bool drained() const override;
  void listeners(Listeners& out) const override;
  std::optional<Endpoint> webhook_endpoint() const;
  std::optional<Endpoint> email_endpoint() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
