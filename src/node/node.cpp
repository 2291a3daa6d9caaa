#include "node/node.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>

#include "access/radius_server.hpp"
#include "admin/api.hpp"
#include "admin/http_server.hpp"
#include "core/runtime.hpp"
#include "directory/directory.hpp"
#include "mail/imap_proxy.hpp"
#include "mail/pop3_proxy.hpp"
#include "mail/smtp_proxy.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

struct Node::Impl {
  Config cfg;
  boost::asio::io_context io{1};
  Runtime runtime{io};
  std::unique_ptr<Store> store;
  std::unique_ptr<StoreDirectory> directory;
  std::unique_ptr<StoreWriter> writer;
  std::unique_ptr<AccessRole> access;
  std::unique_ptr<Pop3Proxy> pop3;
  std::unique_ptr<SmtpProxy> smtp;
  std::unique_ptr<ImapProxy> imap;
  std::unique_ptr<AdminApi> api;
  std::unique_ptr<HttpServer> admin;

  explicit Impl(Config c) : cfg(std::move(c)) {
    store = Store::open_sqlite(cfg.store.path);
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
    m.access = std::make_unique<AccessRole>(m.io, *m.cfg.access, *m.directory, *m.store, *m.writer);
    m.access->start();
    m.runtime.on_stop([&m] { m.access->stop(); });
    m.runtime.add_drain_check([&m] { return m.access->drained(); });
  }
  if (m.cfg.mail) {
    // Config validation guarantees the access role runs in this node.
    if (m.cfg.mail->pop3_listen) {
      m.pop3 = std::make_unique<Pop3Proxy>(m.io, *m.cfg.mail, m.access->sessions(), *m.directory);
      m.pop3->start();
      m.runtime.on_stop([&m] { m.pop3->stop(); });
      m.runtime.add_drain_check([&m] { return m.pop3->drained(); });
    }
    if (m.cfg.mail->imap_listen) {
      m.imap = std::make_unique<ImapProxy>(m.io, *m.cfg.mail, m.access->sessions(), *m.directory);
      m.imap->start();
      m.runtime.on_stop([&m] { m.imap->stop(); });
      m.runtime.add_drain_check([&m] { return m.imap->drained(); });
    }
    if (m.cfg.mail->smtp_listen) {
      m.smtp = std::make_unique<SmtpProxy>(m.io, *m.cfg.mail, m.access->sessions(), *m.directory);
      m.smtp->start();
      m.runtime.on_stop([&m] { m.smtp->stop(); });
      m.runtime.add_drain_check([&m] { return m.smtp->drained(); });
    }
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
  }
  if (impl_->pop3) out["mail.pop3"] = {impl_->pop3->local_endpoint(), "pop3"};
  if (impl_->imap) out["mail.imap"] = {impl_->imap->local_endpoint(), "imap"};
  if (impl_->smtp) out["mail.smtp"] = {impl_->smtp->local_endpoint(), "smtp"};
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
