#include "admin/admin_role.hpp"

#include "admin/api.hpp"
#include "core/config.hpp"
#include "net/http_server.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace {

class AdminRole final : public Role {
 public:
  explicit AdminRole(RoleContext& ctx)
      : api_(ctx.directory, ctx.sessions, ctx.session_control, ctx.cfg.admin.token,
             ctx.cfg.admin.allowed_hosts),
        server_(ctx.io, ctx.cfg.admin.listen,
                [this](const HttpRequest& r, HttpReply reply) { api_.handle(r, std::move(reply)); }) {
    api_.set_health(
        [&w = ctx.writer] { return w.healthy() ? std::string() : std::string("store commits failing"); });
  }
  void start() override { server_.start(); }
  void stop() override { server_.stop(); }
  bool drained() const override { return server_.drained(); }
  void listeners(Listeners& out) const override { out["admin.http"] = {server_.local_endpoint(), "http"}; }

 private:
  AdminApi api_;
  HttpServer server_;
};

}  // namespace

std::unique_ptr<Role> make_admin_role(RoleContext& ctx) {
  return std::make_unique<AdminRole>(ctx);
}

}  // namespace mobix
