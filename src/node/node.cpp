#include "node/node.hpp"

#include <csignal>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/system/system_error.hpp>

#include "core/metrics.hpp"
#include "core/runtime.hpp"
#include "core/tcp_service.hpp"
#include "directory/directory.hpp"
#include "directory/ldap_devices.hpp"
#include "directory/ldap_directory.hpp"
#include "kerberos/kerberos.hpp"
#include "node/reload.hpp"
#include "node/role_table.hpp"
#include "store/job_leader.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

struct Node::Impl {
  Config cfg;
  boost::asio::io_context io{1};
  Runtime runtime{io};
  std::unique_ptr<Store> store;
  std::unique_ptr<Directory> directory;  ///< the embedded store or the operator's LDAP (one line of config)
  std::unique_ptr<LdapDeviceRepository> ldap_devices;  ///< seed 003's devices from LDAP, with LDAP
  std::unique_ptr<StoreWriter> writer;
  std::unique_ptr<JobLeader> jobs;  ///< after the writer: its jobs' writes go through it
  std::unique_ptr<RoleContext> ctx;
  std::vector<std::unique_ptr<Role>> roles;  ///< in role_table() order
  std::string yaml_text;                     ///< the file cfg was made from (SIGHUP compares with it)
  std::optional<boost::asio::signal_set> hup;

  void arm_reload() {
    hup->async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload();
      arm_reload();
    });
  }

  /// SIGHUP (issue 13 item 7): on the io thread, between the roles' work.
  void reload() {
    std::ifstream in(cfg.source);
    std::stringstream text;
    text << in.rdbuf();
    auto r = in ? reload_config(cfg, yaml_text, text.str())
                : ReloadResult{ReloadResult::Outcome::invalid, {}, {}, "cannot read " + cfg.source};
    metrics()
        .counter("mobix_config_reloads_total", "Configuration reloads on SIGHUP, by result",
                 std::string("result=\"") + to_string(r.outcome) + "\"")
        .inc();
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s.empty() ? std::string("nothing") : s;
    };
    switch (r.outcome) {
      case ReloadResult::Outcome::invalid:
        spdlog::error("reload: {} refused, the running configuration stays: {}", cfg.source, r.error);
        break;
      case ReloadResult::Outcome::needs_restart:
        spdlog::warn("reload: {}: applied {}; not applied until a restart: {}", cfg.source, join(r.applied),
                     join(r.needs_restart));
        break;
      case ReloadResult::Outcome::applied:
        spdlog::info("reload: {}: applied {}", cfg.source, join(r.applied));
        break;
      case ReloadResult::Outcome::unchanged:
        spdlog::info("reload: {}: nothing changed", cfg.source);
        break;
    }
  }

  explicit Impl(Config c) : cfg(std::move(c)) {
    if (std::ifstream in{cfg.source}) {
      std::stringstream text;
      text << in.rdbuf();
      yaml_text = text.str();
    }
    // Before any listener exists: every TcpService of this process takes these caps.
    default_connection_limits() = {cfg.limits.max_connections_per_listener,
                                   cfg.limits.max_connections_per_address};
    // Seed 003: the Kerberos library reads its realm from the environment; set before any thread.
    if (cfg.kerberos) krb::configure_process(cfg.kerberos->config_file, cfg.kerberos->rcache_dir);
    store = Store::open(cfg.store, cfg.store.migrate == StoreMigrate::automatic);
    DeviceRepository* devices = store.get();
    if (cfg.directory.backend == DirectoryBackend::ldap) {
      auto ldap = std::make_unique<LdapDirectory>(*cfg.directory.ldap);
      ldap_devices = std::make_unique<LdapDeviceRepository>(*ldap, *store);
      devices = ldap_devices.get();
      directory = std::move(ldap);
    } else {
      directory = std::make_unique<StoreDirectory>(*store);
    }
    writer = std::make_unique<StoreWriter>(*store);
    ctx = std::make_unique<RoleContext>(RoleContext{io, cfg, *store, *writer, *directory, *devices});
    // Singleton jobs need leases only when other nodes share the store; one node owns a SQLite file
    // (and after a kill -9 it must not wait for its former self's lease to run out).
    if (cfg.store.backend == StoreBackend::postgresql) {
      jobs = std::make_unique<JobLeader>(*store, std::chrono::seconds(cfg.store.job_lease));
      ctx->jobs = jobs.get();
    }
  }
};

Node::Node(Config cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Node::~Node() {
  // The roles are destroyed after this (Impl's members in reverse), before the writer and the store;
  // the job leader stops first, so no job change reaches a role that is gone.
  if (impl_->jobs) impl_->jobs->stop();
  if (impl_->writer) impl_->writer->flush();
}

void Node::start() {
  auto& m = *impl_;
  for (const auto& entry : role_table()) {
    if (!entry.wanted(m.cfg)) continue;
    auto role = entry.make(*m.ctx);
    try {
      role->start();
    } catch (const boost::system::system_error& e) {  // name the role whose socket or file failed
      throw std::runtime_error(std::string(entry.name) + ": cannot start: " + e.what());
    }
    Role* r = role.get();
    m.roles.push_back(std::move(role));
    // Stop hooks run in reverse order: the last role started is the first stopped.
    m.runtime.on_stop([r] { r->stop(); });
    m.runtime.add_drain_check(entry.name, [r] { return r->drained(); });
  }
  m.runtime.add_drain_check("store writer", [&m] { return m.writer->pending() == 0; });
  if (m.jobs) m.jobs->start();  // the roles registered their jobs while they were made
  // SIGHUP reloads what may change live (and no longer ends the process, its default action).
  if (!m.yaml_text.empty()) {
    m.hup.emplace(m.io, SIGHUP);
    m.arm_reload();
    m.runtime.on_stop([&m] {
      boost::system::error_code ec;
      m.hup->cancel(ec);
    });
  }
}

void Node::run() {
  impl_->runtime.run();
  impl_->writer->flush();
  spdlog::info("stopped; store flushed");
}

void Node::request_stop() {
  impl_->runtime.request_stop();
}

Listeners Node::listeners() const {
  Listeners out;
  for (const auto& r : impl_->roles) r->listeners(out);
  return out;
}

Directory& Node::directory() {
  return *impl_->directory;
}
Store& Node::store() {
  return *impl_->store;
}
SessionView* Node::sessions() {
  return impl_->ctx->sessions;
}
const Config& Node::config() const {
  return impl_->cfg;
}

}  // namespace mobix
