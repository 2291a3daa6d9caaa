#include "telephony/initiating_db.hpp"

#include <memory>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "directory/directory.hpp"
#include "store/store.hpp"
#include "telephony/negotiate_server.hpp"

namespace mobix {

namespace {

namespace asio = boost::asio;
using json = nlohmann::json;

class InitiatingDbRole final : public Role {
 public:
  explicit InitiatingDbRole(RoleContext& ctx)
      : cfg_(*ctx.cfg.initiating_db),
        realm_(ctx.cfg.kerberos->realm),
        devices_(ctx.devices),
        directory_(ctx.directory),
        server_(
            ctx.io,
            {"initiating_db", cfg_.listen, cfg_.cert_file, cfg_.key_file, cfg_.keytab,
             "mobix_initiating_db_requests_total", "Initiating information requests by outcome (seed 003)",
             cfg_.per_source_per_minute, cfg_.per_source_burst},
            [](const HttpRequest& r) { return r.method == "GET" && r.path.rfind(kPrefix, 0) == 0; },
            [this](const HttpRequest& r, const telephony::NegotiateGate::Caller& who, HttpReply reply) {
              handle(r, who, std::move(reply));
            }),
        io_(ctx.io) {}

  void start() override {
    server_.start();
    spdlog::info("initiating_db: serving initiating information on https://{} for realm {}",
                 server_.local_endpoint().str(), realm_);
  }
  void stop() override { server_.stop(); }
  bool drained() const override { return server_.drained(); }
  void listeners(Listeners& out) const override {
    out["initiating_db.https"] = {server_.local_endpoint(), "https+negotiate"};
  }

 private:
  static constexpr std::string_view kPrefix = "/v1/initiating/";

  /// What the directory holds for one identity code (or why it could not say).
  struct Found {
    std::optional<Device> device;
    std::optional<Subscriber> owner;
    std::string error;  ///< the device records or the directory could not be read
  };

  /// GET /v1/initiating/<identity code>, asked by an authenticated principal.
  void handle(const HttpRequest& req, const telephony::NegotiateGate::Caller& who, HttpReply reply) {
    auto code = req.path.substr(kPrefix.size());
    // Only the device's own principal (claim 1); the realm must be ours.
    if (who.principal != code + "@" + realm_)
      return reply(
          server_.gate().refuse(403, "not_entitled", req.peer, who.principal + " asked for " + code));
    if (!devices_.blocking() && !directory_.blocking())
      return reply(answer(req.peer, code, who, lookup(code)));
    // LDAP answers over the network: ask from the pool, answer on the event loop.
    asio::post(pool_, [this, peer = req.peer, code, who, reply = std::move(reply),
                       alive = std::weak_ptr<int>(alive_)]() mutable {
      auto found = lookup(code);
      asio::post(io_, [this, peer, code, who, reply = std::move(reply), found = std::move(found), alive] {
        if (!alive.expired()) reply(answer(peer, code, who, found));
      });
    });
  }

  /// Reads the device and its subscriber; safe on a pool thread (both repositories are).
  Found lookup(const std::string& code) {
    Found f;
    try {  // the device and its subscriber may be the operator's LDAP's: down is a temporary failure
      f.device = devices_.find_device(DeviceKey::identity_code, code);
      if (f.device) f.owner = directory_.find(IdentityKind::id, std::to_string(f.device->subscriber_id));
    } catch (const std::exception& e) {
      f.error = e.what();
    }
    return f;
  }

  HttpResponse answer(const std::string& peer, const std::string& code,
                      const telephony::NegotiateGate::Caller& who, const Found& f) {
    auto& gate = server_.gate();
    if (!f.error.empty()) return gate.refuse(503, "directory_unavailable", peer, code + ": " + f.error);
    if (!f.device) return gate.refuse(404, "unknown_device", peer, code + " has no device record");
    const auto& owner = f.owner;
    json info{
        {"identity_code", f.device->identity_code},
        {"user_name", owner ? (owner->username.empty() ? owner->msisdn : owner->username) : std::string()},
        {"msisdn", owner ? owner->msisdn : std::string()},
        {"home_address", f.device->home_address},
        {"home_agent", cfg_.home_agent.str()},
        {"home_agent_address", cfg_.home_agent_address},
        {"mip_spi", f.device->mip_spi},
        {"mip_key", f.device->mip_key_hex}};
    gate.count("served");
    spdlog::info("initiating_db: initiating information of {} served to {}", code, who.principal);
    return telephony::NegotiateGate::answer(200, info.dump() + "\n", who);
  }

  const InitiatingDbConfig& cfg_;
  std::string realm_;
  DeviceRepository& devices_;  // the store's, or LDAP's (seed 003 identity codes in the directory)
  Directory& directory_;
  telephony::NegotiateServer server_;
  boost::asio::io_context& io_;
  std::shared_ptr<int> alive_ =
      std::make_shared<int>(0);       ///< lookups finishing after the role ended see it gone
  boost::asio::thread_pool pool_{2};  ///< last member: joined first, while what its threads read still exists
};

}  // namespace

std::unique_ptr<Role> make_initiating_db_role(RoleContext& ctx) {
  return std::make_unique<InitiatingDbRole>(ctx);
}

}  // namespace mobix
