#include "telephony/initiating_db.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "directory/directory.hpp"
#include "store/store.hpp"
#include "telephony/negotiate_server.hpp"

namespace mobix {

namespace {

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
            }) {}

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

  /// GET /v1/initiating/<identity code>, asked by an authenticated principal.
  void handle(const HttpRequest& req, const telephony::NegotiateGate::Caller& who, HttpReply reply) {
    auto& gate = server_.gate();
    auto code = req.path.substr(kPrefix.size());
    // Only the device's own principal (claim 1); the realm must be ours.
    if (who.principal != code + "@" + realm_)
      return reply(gate.refuse(403, "not_entitled", req.peer, who.principal + " asked for " + code));
    std::optional<Device> device;
    std::optional<Subscriber> owner;
    try {  // the device and its subscriber may be the operator's LDAP's: down is a temporary failure
      device = devices_.find_device(DeviceKey::identity_code, code);
      if (device) owner = directory_.find(IdentityKind::id, std::to_string(device->subscriber_id));
    } catch (const std::exception& e) {
      return reply(gate.refuse(503, "directory_unavailable", req.peer, code + ": " + e.what()));
    }
    if (!device) return reply(gate.refuse(404, "unknown_device", req.peer, code + " has no device record"));
    json info{
        {"identity_code", device->identity_code},
        {"user_name", owner ? (owner->username.empty() ? owner->msisdn : owner->username) : std::string()},
        {"msisdn", owner ? owner->msisdn : std::string()},
        {"home_address", device->home_address},
        {"home_agent", cfg_.home_agent.str()},
        {"home_agent_address", cfg_.home_agent_address},
        {"mip_spi", device->mip_spi},
        {"mip_key", device->mip_key_hex}};
    gate.count("served");
    spdlog::info("initiating_db: initiating information of {} served to {}", code, who.principal);
    reply(telephony::NegotiateGate::answer(200, info.dump() + "\n", who));
  }

  const InitiatingDbConfig& cfg_;
  std::string realm_;
  DeviceRepository& devices_;  // the store's, or LDAP's (seed 003 identity codes in the directory)
  Directory& directory_;
  telephony::NegotiateServer server_;
};

}  // namespace

std::unique_ptr<Role> make_initiating_db_role(RoleContext& ctx) {
  return std::make_unique<InitiatingDbRole>(ctx);
}

}  // namespace mobix
