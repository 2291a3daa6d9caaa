#pragma once
// The `access` role: a RADIUS authentication and accounting server (RFC 2865, 2866,
// 3579, 5080) on UDP that keeps the session table and hands out pool addresses.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "access/access_service.hpp"
#include "access/session_table.hpp"
#include "core/config.hpp"
#include "core/net.hpp"
#include "core/role.hpp"
#include "spine/session_view.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix {

class StoreWriter;
class SessionRepository;
class RoamingOutbox;
class JobLeader;

class AccessRole final : public Role, public SessionControl {
 public:
  using Clock = std::function<std::int64_t()>;  ///< unix seconds
  /// With `roaming`, also the visited side (roamers' requests to their home networks over
  /// RadSec) and, with radsec_listen, the home side for partners (seed 002).
  AccessRole(boost::asio::io_context& io, const AccessConfig& cfg, Directory& dir, SessionRepository& repo,
             StoreWriter& writer, Clock clock = {}, const RoamingConfig* roaming = nullptr,
             BoxRepository* boxes = nullptr);
  ~AccessRole();

  /// Loads sessions and leases from the store, binds both UDP sockets (throws on failure)
  /// and starts serving.
  void start() override;
  /// Closes the sockets; in-flight requests finish (see drained()).
  void stop() override;
  bool drained() const override;
  void listeners(Listeners& out) const override;

  Endpoint auth_endpoint() const;
  Endpoint acct_endpoint() const;
  std::optional<Endpoint> radsec_endpoint() const;
  SessionTable& sessions();
  AccessService& service();
  /// Several nodes over one store: session expiry runs only while this node holds its job.
  void share_jobs(JobLeader& jobs);
  /// Seed 002 visited side: roamers' accounting for their home networks is kept in `outbox` until
  /// delivered, under this node's name (each node delivers its own). Before start().
  void keep_roaming_outbox(RoamingOutbox& outbox, std::string node_name);

  /// Ends the session holding `ip` (admin purge); `done(found)` runs on the io thread
  /// once the change is durable.
  void purge(const std::string& ip, std::function<void(bool found)> done) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix
