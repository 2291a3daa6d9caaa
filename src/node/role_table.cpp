#include "node/role_table.hpp"

#include "access/radius_server.hpp"
#include "admin/admin_role.hpp"
#include "core/config.hpp"
#include "css/css_role.hpp"
#include "directory/directory.hpp"
#include "dns/dns_role.hpp"
#include "mail/mail_role.hpp"
#include "mip/home_agent.hpp"
#include "relay/tunnel_roles.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"
#include "telephony/billing.hpp"
#include "telephony/initiating_db.hpp"
#include "telephony/mobility_manager.hpp"

namespace mobix {

namespace {

std::unique_ptr<Role> make_access(RoleContext& ctx) {
  auto access = std::make_unique<AccessRole>(ctx.io, *ctx.cfg.access, ctx.directory, ctx.store, ctx.writer,
                                             AccessRole::Clock{},
                                             ctx.cfg.roaming ? &*ctx.cfg.roaming : nullptr, &ctx.store);
  if (ctx.jobs) access->share_jobs(*ctx.jobs);
  if (ctx.cfg.roaming) access->keep_roaming_outbox(ctx.store, ctx.cfg.node_name);
  // Whatever the directory cached about a subscriber goes when their session ends.
  access->sessions().subscribe([&dir = ctx.directory](const SessionEvent& e) {
    if (e.kind == SessionEvent::Kind::detach && !e.session.msisdn.empty()) dir.forget(e.session.msisdn);
  });
  // The spine: every later role sees the sessions through these.
  ctx.sessions = &access->sessions();
  ctx.session_control = access.get();
  return access;
}

std::unique_ptr<Role> make_relay(RoleContext& ctx) {
  return std::make_unique<RelayRole>(ctx.io, *ctx.cfg.relay, ctx.directory);
}

std::unique_ptr<Role> make_gateway(RoleContext& ctx) {
  return std::make_unique<GatewayRole>(ctx.io, *ctx.cfg.gateway, *ctx.sessions, ctx.store, ctx.writer);
}

constexpr RoleEntry kRoles[] = {
    {"access", [](const Config& c) { return c.access.has_value(); }, make_access},
    {"dns", [](const Config& c) { return c.dns.has_value(); }, make_dns_role},
    {"mail", [](const Config& c) { return c.mail.has_value(); }, make_mail_role},
    {"relay", [](const Config& c) { return c.relay.has_value(); }, make_relay},
    {"gateway", [](const Config& c) { return c.gateway.has_value(); }, make_gateway},
    {"css", [](const Config& c) { return c.css.has_value(); }, make_css_role},
    {"home_agent", [](const Config& c) { return c.home_agent.has_value(); }, make_home_agent_role},
    {"initiating_db", [](const Config& c) { return c.initiating_db.has_value(); }, make_initiating_db_role},
    {"billing", [](const Config& c) { return c.billing.has_value(); }, make_billing_role},
    {"mobility_manager", [](const Config& c) { return c.mobility_manager.has_value(); },
     make_mobility_manager_role},
    {"admin", [](const Config&) { return true; }, make_admin_role},
};

}  // namespace

std::span<const RoleEntry> role_table() {
  return kRoles;
}

}  // namespace mobix
