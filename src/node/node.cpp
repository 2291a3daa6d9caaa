#include "node/node.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "access/radius_server.hpp"
#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "core/runtime.hpp"
#include "directory/directory.hpp"
#include "directory/ldap_directory.hpp"
#include "dns/dns_server.hpp"
#include "dns/publisher.hpp"
#include "mail/mail_proxies.hpp"
#include "relay/tunnel_roles.hpp"
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
  std::unique_ptr<AccessRole> access;
  /// The mail role's listeners, by lab.json name ("mail.pop3", ...).
  std::vector<std::pair<std::string, std::unique_ptr<TcpService>>> mail;
  std::unique_ptr<RelayRole> relay;               ///< seed 001 public relay
  std::unique_ptr<GatewayRole> gateway;           ///< seed 001 private gateway
  std::unique_ptr<dns::ZoneSet> zones;            ///< seed 002: the embedded zones
  std::unique_ptr<dns::ZonePublisher> publisher;  ///< sessions -> zones
  std::unique_ptr<dns::DnsServer> dns_server;
  std::unique_ptr<AdminApi> api;
  std::unique_ptr<HttpServer> admin;

  explicit Impl(Config c) : cfg(std::move(c)) {
    store = Store::open_sqlite(cfg.store.path);
    if (cfg.directory.backend == "ldap")
      directory = std::make_unique<LdapDirectory>(*cfg.directory.ldap);
    else
      directory = std::make_unique<StoreDirectory>(*store);
    writer = std::make_unique<StoreWriter>(*store);
  }
};

Node::Node(Config cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Node::~Node() {
  if (impl_->writer) impl_->writer->flush();
}

void Node::start() {
  auto& m = *impl_;
  if (m.cfg.access) {
    m.access = std::make_unique<AccessRole>(m.io, *m.cfg.access, *m.directory, *m.store, *m.writer,
                                            AccessRole::Clock{}, m.cfg.roaming ? &*m.cfg.roaming : nullptr);
    // Whatever the directory cached about a subscriber goes when their session ends.
    m.access->sessions().subscribe([&m](const SessionEvent& e) {
      if (e.kind == SessionEvent::Kind::detach && !e.session.msisdn.empty())
        m.directory->forget(e.session.msisdn);
    });
    m.access->start();
    m.runtime.on_stop([&m] { m.access->stop(); });
    m.runtime.add_drain_check([&m] { return m.access->drained(); });
  }
  if (m.cfg.dns) start_dns();
  if (m.cfg.mail) {
    // Config validation guarantees the access role runs in this node.
    const auto& mc = *m.cfg.mail;
    auto& sessions = m.access->sessions();
    if (mc.pop3_listen) m.mail.emplace_back("mail.pop3", make_pop3_proxy(m.io, mc, sessions, *m.directory));
    if (mc.imap_listen) m.mail.emplace_back("mail.imap", make_imap_proxy(m.io, mc, sessions, *m.directory));
    if (mc.smtp_listen) m.mail.emplace_back("mail.smtp", make_smtp_proxy(m.io, mc, sessions, *m.directory));
    for (auto& [name, service] : m.mail) {
      service->start();
      m.runtime.on_stop([s = service.get()] { s->stop(); });
      m.runtime.add_drain_check([s = service.get()] { return s->drained(); });
    }
  }
  if (m.cfg.relay) {
    m.relay = std::make_unique<RelayRole>(m.io, *m.cfg.relay, *m.directory);
    m.relay->start();
    m.runtime.on_stop([&m] { m.relay->stop(); });
    m.runtime.add_drain_check([&m] { return m.relay->drained(); });
  }
  if (m.cfg.gateway) {
    // Config validation guarantees the access role runs in this node.
    m.gateway =
        std::make_unique<GatewayRole>(m.io, *m.cfg.gateway, m.access->sessions(), *m.store, *m.writer);
    m.gateway->start();
    m.runtime.on_stop([&m] { m.gateway->stop(); });
  }
  m.api = std::make_unique<AdminApi>(*m.directory, m.access.get(), m.cfg.admin.token);
  m.admin = std::make_unique<HttpServer>(
      m.io, m.cfg.admin.listen,
      [&m](const HttpRequest& r, HttpReply reply) { m.api->handle(r, std::move(reply)); });
  m.admin->start();
  m.runtime.on_stop([&m] { m.admin->stop(); });
  m.runtime.add_drain_check([&m] { return m.admin->drained(); });
  m.runtime.add_drain_check([&m] { return m.writer->pending() == 0; });
}

void Node::start_dns() {
  auto& m = *impl_;
  const auto& dc = *m.cfg.dns;
  m.zones = std::make_unique<dns::ZoneSet>(static_cast<std::uint32_t>(std::time(nullptr)));
  m.publisher = std::make_unique<dns::ZonePublisher>(*m.zones, m.access->sessions(), dc.ttl, m.writer.get());
  static const std::map<std::string, std::uint16_t> types{
      {"A", dns::kA}, {"AAAA", dns::kAAAA}, {"NS", dns::kNS}, {"PTR", dns::kPTR}};
  for (const auto& z : dc.zones) {
    if (z.update) {
      const auto& u = *z.update;
      m.publisher->add_external_zone(
          *dns::normalize_name(z.name),
          dns::UpdateServerConfig{u.server, u.key_name, u.key_secret, u.algorithm, u.batch, u.timeout_ms});
      continue;
    }
    dns::ZoneSettings zs{z.name, z.primary_ns, z.hostmaster, dc.ttl, {}};
    for (const auto& r : z.records) zs.static_records.push_back({r.name, types.at(r.type), dc.ttl, r.value});
    try {
      m.zones->add_zone(std::move(zs));
    } catch (const std::invalid_argument& e) {
      throw ConfigError(m.cfg.source, 1, "dns.zones", e.what());
    }
  }
  if (!dc.roamers_zone.empty()) m.publisher->set_roamers_zone(dc.roamers_zone);
  // Durable sessions were loaded by the access role: the zones start from exactly those.
  m.publisher->reconcile(m.access->sessions().list(), m.store->load_dns_removals());
  m.access->sessions().subscribe([&m](const SessionEvent& e) { m.publisher->on_event(e); });
  m.access->set_dns_journal([&m](const SessionRecord& s) { return m.publisher->needs_journal(s); });
  if (dc.listen) {
    m.dns_server = std::make_unique<dns::DnsServer>(*dc.listen, dc.threads, *m.zones);
    m.dns_server->start();
    m.runtime.on_stop([&m] { m.dns_server->stop(); });
  }
  m.runtime.on_stop([&m] { m.publisher->flush(2000); });
}

void Node::run() {
  impl_->runtime.run();
  impl_->writer->flush();
  spdlog::info("stopped; store flushed");
}

void Node::request_stop() {
  impl_->runtime.request_stop();
}

std::map<std::string, ListenerInfo> Node::listeners() const {
  std::map<std::string, ListenerInfo> out;
  if (impl_->access) {
    out["access.radius_auth"] = {impl_->access->auth_endpoint(), "radius/udp"};
    out["access.radius_acct"] = {impl_->access->acct_endpoint(), "radius-acct/udp"};
    if (auto rs = impl_->access->radsec_endpoint()) out["roaming.radsec"] = {*rs, "radsec/tls"};
  }
  for (const auto& [name, service] : impl_->mail) out[name] = {service->local_endpoint(), name.substr(5)};
  if (impl_->relay) {
    out["relay.public"] = {impl_->relay->public_endpoint(), "http/tls-sni"};
    out["relay.callback"] = {impl_->relay->callback_endpoint(), "tls"};
  }
  if (impl_->gateway && impl_->gateway->webhook_endpoint())
    out["gateway.webhook"] = {*impl_->gateway->webhook_endpoint(), "https"};
  if (impl_->gateway && impl_->gateway->email_endpoint())
    out["gateway.email"] = {*impl_->gateway->email_endpoint(), "smtp"};
  if (impl_->dns_server) out["dns"] = {impl_->dns_server->local_endpoint(), "dns/udp+tcp"};
  if (impl_->admin) out["admin.http"] = {impl_->admin->local_endpoint(), "http"};
  return out;
}

Directory& Node::directory() {
  return *impl_->directory;
}
SessionTable* Node::sessions() {
  return impl_->access ? &impl_->access->sessions() : nullptr;
}
const Config& Node::config() const {
  return impl_->cfg;
}

}  // namespace mobix
