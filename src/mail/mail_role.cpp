#include "mail/mail_role.hpp"

#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/thread_pool.hpp>

#include "core/config.hpp"
#include "core/metrics.hpp"
#include "mail/live_connections.hpp"
#include "mail/mail_proxies.hpp"
#include "spine/session_view.hpp"

namespace mobix {

namespace {

class MailRole final : public Role {
 public:
  explicit MailRole(RoleContext& ctx) {
    const auto& mc = *ctx.cfg.mail;
    MailShared shared{ctx.io, mc, *ctx.sessions, ctx.directory, directory_pool_, *live_};
    // A proxied session never outlives the access session it was opened for (issue 12 item 6):
    // when the address's session ends (stop, expiry, takeover by another subscriber) its
    // connections close.
    ctx.sessions->subscribe([live = live_](const SessionEvent& e) {
      if (e.kind != SessionEvent::Kind::detach || e.session.ipv4.empty()) return;
      if (auto n = live->close_all(e.session.ipv4)) {
        metrics()
            .counter("mobix_mail_connections_closed_on_detach_total",
                     "Handset connections closed because their access session ended")
            .inc(static_cast<double>(n));
        spdlog::info("mail: {} connection(s) from {} closed: its session ended ({})", n, e.session.ipv4,
                     e.reason);
      }
    });
    if (mc.pop3_listen) services_.emplace_back("mail.pop3", make_pop3_proxy(shared));
    if (mc.imap_listen) services_.emplace_back("mail.imap", make_imap_proxy(shared));
    if (mc.smtp_listen) services_.emplace_back("mail.smtp", make_smtp_proxy(shared));
  }
  ~MailRole() override { directory_pool_.join(); }
  void start() override {
    for (auto& [name, s] : services_) s->start();
  }
  void stop() override {
    for (auto& [name, s] : services_) s->stop();
  }
  bool drained() const override {
    for (const auto& [name, s] : services_)
      if (!s->drained()) return false;
    return true;
  }
  void listeners(Listeners& out) const override {
    for (const auto& [name, s] : services_) out[name] = {s->local_endpoint(), name.substr(5)};
  }

 private:
  boost::asio::thread_pool directory_pool_{4};  ///< blocking directory lookups (LDAP)
  std::shared_ptr<mail::LiveConnections> live_ = std::make_shared<mail::LiveConnections>();
  /// By lab.json name ("mail.pop3", ...).
  std::vector<std::pair<std::string, std::unique_ptr<TcpService>>> services_;
};

}  // namespace

std::unique_ptr<Role> make_mail_role(RoleContext& ctx) {
  return std::make_unique<MailRole>(ctx);
}

}  // namespace mobix
