#include "admin/admin_role.hpp"

#include "admin/api.hpp"
#include "core/config.hpp"
#include "net/http_server.hpp"
#include "provisioning/registry.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace {

class AdminRole final : public Role {
 public:
  explicit AdminRole(RoleContext& ctx)
      : registry_(ctx.store),
        api_(ctx.directory, ctx.sessions, ctx.session_control, ctx.cfg.admin.token,
             ctx.cfg.admin.allowed_hosts),
        server_(ctx.io, ctx.cfg.admin.listen,
                [this](const HttpRequest& r, HttpReply reply) { api_.handle(r, std::move(reply)); }) {
    if (ctx.cfg.css) api_.set_boxes(&registry_);
    api_.set_devices(&ctx.devices);
    api_.set_health(
        [&w = ctx.writer] { return w.healthy() ? std::string() : std::string("store commits failing"); });
  }
  void start() override { server_.start(); }
  void stop() override { server_.stop(); }
  bool drained() const override { return server_.drained(); }
  void listeners(Listeners& out) const override { out["admin.http"] = {server_.local_endpoint(), "http"}; }

 private:
  BoxRegistry registry_;
  AdminApi api_;
  HttpServer server_;
};

}  // namespace

std::unique_ptr<Role> make_admin_role(RoleContext& ctx) {
  return std::make_unique<AdminRole>(ctx);
}

}  // namespace mobix
