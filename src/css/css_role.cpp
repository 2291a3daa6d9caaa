#include "css/css_role.hpp"

#include <map>

#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "css/config_manager.hpp"
#include "css/connectivity_server.hpp"
#include "css/wakeup.hpp"
#include "pki/pki.hpp"
#include "provisioning/registry.hpp"
#include "spine/session_view.hpp"
#include "store/store.hpp"

namespace mobix {

namespace {

class CssRole final : public Role {
 public:
  explicit CssRole(RoleContext& ctx)
      : cfg_(*ctx.cfg.css),
        signer_(cfg_.ca_dir),
        registry_(ctx.store),
        wakeups_(ctx.io, cfg_),
        manager_(ctx.io, cfg_, registry_, ctx.store, signer_, wakeups_),
        server_(ctx.io, cfg_, registry_, *ctx.sessions),
        sessions_(*ctx.sessions) {
    metrics().gauge_family("mobix_cb_boxes", "Connectivity boxes by state (seed 004)", [this] {
      std::vector<std::pair<std::string, double>> out;
      std::map<std::string, double> counts;
      for (int s = 0; s < 5; ++s) counts[to_string(static_cast<BoxState>(s))] = 0;
      try {
        for (const auto& b : registry_.list()) counts[to_string(b.state)] += 1;
      } catch (const StoreError&) {
        return out;  // the store is down: /healthz says so
      }
      for (const auto& [state, n] : counts) out.emplace_back("state=\"" + state + "\"", n);
      return out;
    });
  }

  void start() override {
    // Seed 004 step [4]: the configuration authorisation server (the access role) passes the
    // serial, the address from accounting and the line id; here, through the session table.
    sessions_.subscribe([this](const SessionEvent& e) {
      if (e.kind != SessionEvent::Kind::attach || e.session.ipv4.empty()) return;
      // With several nodes on one store, the node that accounted the log-in configures the box;
      // the others learn the session as "remote" and leave it (one download, one certificate).
      if (e.reason == "remote") return;
      const auto& user = e.session.username;
      auto at = user.rfind('@');
      if (at == std::string::npos || lower(user.substr(at + 1)) != cfg_.config_realm) return;
      manager_.box_logged_in(user.substr(0, at), e.session.ipv4, e.session.msisdn);
    });
    wakeups_.start();
    manager_.start();
    server_.start();
    manager_.set_css_address(cfg_.public_address.value_or(server_.local_endpoint()));
    spdlog::info("css: connectivity listener on {}, configuration realm {}", server_.local_endpoint().str(),
                 cfg_.config_realm);
  }
  void stop() override {
    server_.stop();
    manager_.stop();
    wakeups_.stop();
  }
  bool drained() const override { return server_.drained() && manager_.drained(); }
  void listeners(Listeners& out) const override {
    out["css.connectivity"] = {server_.local_endpoint(), "https"};
  }

 private:
  static std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  const CssConfig& cfg_;
  pki::Signer signer_;
  BoxRegistry registry_;
  WakeupSender wakeups_;
  ConfigManager manager_;
  ConnectivityServer server_;
  SessionView& sessions_;
};

}  // namespace

std::unique_ptr<Role> make_css_role(RoleContext& ctx) {
  return std::make_unique<CssRole>(ctx);
}

}  // namespace mobix
