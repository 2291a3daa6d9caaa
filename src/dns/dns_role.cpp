#include "dns/dns_role.hpp"

#include <ctime>
#include <map>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "core/config.hpp"
#include "dns/dns_server.hpp"
#include "dns/publisher.hpp"
#include "spine/session_view.hpp"
#include "store/job_leader.hpp"
#include "store/store.hpp"

namespace mobix {

namespace {

class DnsRole final : public Role {
 public:
  explicit DnsRole(RoleContext& ctx) : cfg_(*ctx.cfg.dns), source_(ctx.cfg.source), ctx_(ctx) {
    zones_ = std::make_unique<dns::ZoneSet>(static_cast<std::uint32_t>(std::time(nullptr)));
    publisher_ = std::make_unique<dns::ZonePublisher>(*zones_, *ctx.sessions, cfg_.ttl, &ctx.writer);
    add_zones();
    if (!cfg_.roamers_zone.empty()) publisher_->set_roamers_zone(cfg_.roamers_zone);
    if (ctx.jobs && publisher_->has_external_zones()) share_update_job(*ctx.jobs);
  }

  void start() override {
    auto& sessions = *ctx_.sessions;
    // Durable sessions were loaded by the access role: the zones start from exactly those.
    publisher_->reconcile(sessions.list(), ctx_.store.load_dns_removals());
    sessions.subscribe([this](const SessionEvent& e) { publisher_->on_event(e); });
    sessions.journal_ends([this](const SessionRecord& s) { return publisher_->needs_journal(s); });
    if (cfg_.listen) {
      server_ = std::make_unique<dns::DnsServer>(*cfg_.listen, cfg_.threads, *zones_);
      server_->start();
    }
  }
  void stop() override {
    publisher_->flush(2000);
    if (server_) server_->stop();
  }
  void listeners(Listeners& out) const override {
    if (server_) out["dns"] = {server_->local_endpoint(), "dns/udp+tcp"};
  }

 private:
  /// RFC 2136 updates come from one node at a time (issue 14 item 5). The node that takes the job
  /// (over) sends everything again: the live sessions' records and the journaled removals.
  void share_update_job(JobLeader& jobs) {
    publisher_->set_update_lease([&jobs] { return jobs.held(kUpdateJob); });
    jobs.add(kUpdateJob, [this](bool leading) {
      if (!leading) return;
      boost::asio::post(ctx_.io, [this] {
        try {
          publisher_->reconcile(ctx_.sessions->list(), ctx_.store.load_dns_removals());
        } catch (const std::exception& e) {  // the store is down: the journal is resent on the next takeover
          spdlog::warn("dns: cannot load the removal journal after taking the update job: {}", e.what());
        }
      });
    });
  }
  static constexpr const char* kUpdateJob = "dns.updates";

  void add_zones() {
    static const std::map<std::string, std::uint16_t> types{
        {"A", dns::kA}, {"AAAA", dns::kAAAA}, {"NS", dns::kNS}, {"PTR", dns::kPTR}};
    for (const auto& z : cfg_.zones) {
      if (z.update) {
        const auto& u = *z.update;
        publisher_->add_external_zone(
            *dns::normalize_name(z.name),
            dns::UpdateServerConfig{u.server, u.key_name, u.key_secret, u.algorithm, u.batch, u.timeout_ms});
        continue;
      }
      dns::ZoneSettings zs{z.name, z.primary_ns, z.hostmaster, cfg_.ttl, {}};
      for (const auto& r : z.records)
        zs.static_records.push_back({r.name, types.at(r.type), cfg_.ttl, r.value});
      try {
        zones_->add_zone(std::move(zs));
      } catch (const std::invalid_argument& e) {
        throw ConfigError(source_, 1, "dns.zones", e.what());  // check-config refuses these first
      }
    }
  }

  const DnsConfig& cfg_;
  std::string source_;
  RoleContext& ctx_;
  std::unique_ptr<dns::ZoneSet> zones_;            ///< the embedded zones
  std::unique_ptr<dns::ZonePublisher> publisher_;  ///< sessions -> zones
  std::unique_ptr<dns::DnsServer> server_;
};

}  // namespace

std::unique_ptr<Role> make_dns_role(RoleContext& ctx) {
  return std::make_unique<DnsRole>(ctx);
}

}  // namespace mobix
