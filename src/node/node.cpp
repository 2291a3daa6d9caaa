#include "node/node.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "core/runtime.hpp"
#include "core/tcp_service.hpp"
#include "directory/directory.hpp"
#include "directory/ldap_directory.hpp"
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
  std::unique_ptr<StoreWriter> writer;
  std::unique_ptr<JobLeader> jobs;  ///< after the writer: its jobs' writes go through it
  std::unique_ptr<RoleContext> ctx;
  std::vector<std::unique_ptr<Role>> roles;  ///< in role_table() order

  explicit Impl(Config c) : cfg(std::move(c)) {
    // Before any listener exists: every TcpService of this process takes these caps.
    default_connection_limits() = {cfg.limits.max_connections_per_listener,
                                   cfg.limits.max_connections_per_address};
    store = Store::open(cfg.store, cfg.store.migrate == StoreMigrate::automatic);
    if (cfg.directory.backend == DirectoryBackend::ldap)
      directory = std::make_unique<LdapDirectory>(*cfg.directory.ldap);
    else
      directory = std::make_unique<StoreDirectory>(*store);
    writer = std::make_unique<StoreWriter>(*store);
    ctx = std::make_unique<RoleContext>(RoleContext{io, cfg, *store, *writer, *directory});
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
    role->start();
    Role* r = role.get();
    m.roles.push_back(std::move(role));
    // Stop hooks run in reverse order: the last role started is the first stopped.
    m.runtime.on_stop([r] { r->stop(); });
    m.runtime.add_drain_check([r] { return r->drained(); });
  }
  m.runtime.add_drain_check([&m] { return m.writer->pending() == 0; });
  if (m.jobs) m.jobs->start();  // the roles registered their jobs while they were made
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
