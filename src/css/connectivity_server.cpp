#include "css/connectivity_server.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "codec/cb/cb_protocol.hpp"
#include "core/metrics.hpp"
#include "net/http_server.hpp"
#include "net/tls_context.hpp"
#include "provisioning/registry.hpp"
#include "spine/session_view.hpp"

namespace mobix {

using json = nlohmann::json;

ConnectivityServer::ConnectivityServer(boost::asio::io_context& io, const CssConfig& cfg,
                                       BoxRegistry& registry, SessionView& sessions)
    : cfg_(cfg), registry_(registry), sessions_(sessions) {
  HttpServerOptions opts;
  opts.name = "css";
  opts.body_limit = 64 << 10;
  opts.read_timeout = std::chrono::seconds(10);
  opts.idle_timeout = std::chrono::seconds(cfg.connected_timeout + 5);
  // Seed 004 (i)-(iii): both ends prove themselves with certificates from the root CA; sessions
  // resume with a shorter handshake (the seed's variant) from the cache or a ticket.
  net::TlsOptions tls;
  tls.side = net::TlsOptions::Side::server;
  tls.cert_file = cfg.cert_file;
  tls.key_file = cfg.key_file;
  tls.ca_file = cfg.ca_dir + "/ca.crt";
  tls.verify_peer = true;
  tls.session_resumption = true;
  opts.tls = net::make_tls_context(tls);
  server_ = std::make_unique<HttpServer>(
      io, cfg.listen, [this](const HttpRequest& r, HttpReply reply) { handle(r, std::move(reply)); }, opts);
}

ConnectivityServer::~ConnectivityServer() = default;
void ConnectivityServer::start() {
  server_->start();
}
void ConnectivityServer::stop() {
  server_->stop();
}
bool ConnectivityServer::drained() const {
  return server_->drained();
}
Endpoint ConnectivityServer::local_endpoint() const {
  return server_->local_endpoint();
}

HttpResponse ConnectivityServer::refuse(const HttpRequest& req, int status, const char* reason,
                                        const std::string& detail) {
  metrics()
      .counter("mobix_css_refusals_total", "Connections to the connectivity listener refused, by reason",
               std::string("reason=\"") + reason + "\"")
      .inc();
  spdlog::warn("css: {} {} from {} refused ({}): {}", req.method, req.path, req.peer, reason, detail);
  return HttpResponse{status, "application/json", json{{"error", detail}, {"reason", reason}}.dump() + "\n",
                      true};
}

void ConnectivityServer::handle(const HttpRequest& req, HttpReply reply) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (!req.peer_cert.present())
    return reply(refuse(req, 403, "no_certificate", "a CB certificate is required"));
  const auto& id = req.peer_cert;
  if (id.unit == "serial")
    return reply(
        refuse(req, 403, "serial_certificate",
               "a serial-number certificate is good for configuration only (serial " + id.common_name + ")"));
  if (id.unit != "cb") return reply(refuse(req, 403, "not_a_cb_certificate", "not a CB certificate"));
  auto rec = registry_.repository().find_box(BoxRepository::Key::cb_id, id.common_name);
  if (!rec) return reply(refuse(req, 403, "unknown_box", "no box " + id.common_name));
  if (rec->cert_serial != id.serial)
    return reply(refuse(req, 403, "stale_certificate",
                        "certificate " + id.serial + " is not the one issued last to " + rec->cb_id));
  // A revoked serial is refused at every step, after configuration too (issue 15 item 1).
  if (auto valid = registry_.repository().find_valid_serial(rec->serial); !valid || valid->revoked)
    return reply(refuse(req, 403, "revoked_serial", "the serial number of " + rec->cb_id + " is revoked"));
  // The session table says who holds the address the call comes from (DESIGN.md: identity from
  // the session table): a copied certificate used from another box's line is refused.
  auto session = sessions_.find_by_ip(req.peer);
  auto expected_user = rec->cb_id + "@" + cfg_.access_realm;
  if (!session || session->username != expected_user)
    return reply(
        refuse(req, 403, "session_mismatch",
               "the call does not come from " + rec->cb_id + "'s access session (address " + req.peer + ")"));

  if (req.method == "GET" && req.path == cbproto::kHelloPath) {
    // Phase III: the box is back through the normal access point; the first call brings the
    // initial address book.
    auto updated = registry_.transition(
        rec->cb_id,
        [&](BoxRecord& r) {
          r.state = BoxState::online;
          r.state_reason = "connected";
          r.callback_due = 0;
          r.last_seen = now;
          r.last_ip = req.peer;
          return true;
        },
        now);
    json book = json::array();
    for (const auto& e : updated->address_book)
      book.push_back({{"cb_name", e.cb_name}, {"friendly_name", e.friendly_name}});
    metrics().counter("mobix_css_hellos_total", "Boxes that called the connectivity listener").inc();
    spdlog::info("css: box {} ({}) connected from {}", rec->cb_name, rec->cb_id, req.peer);
    return reply(HttpResponse{200, "application/json",
                              json{{"cb_name", updated->cb_name},
                                   {"friendly_name", updated->friendly_name},
                                   {"ab_seq", updated->ab_seq},
                                   {"cfg_seq", updated->cfg_seq},
                                   {"address_book", book}}
                                  .dump()});
  }
  if (req.method == "POST" && req.path == cbproto::kByePath) {
    registry_.transition(
        rec->cb_id,
        [&](BoxRecord& r) {
          if (r.state != BoxState::online) return false;
          r.state = BoxState::configured;
          r.state_reason = "configured; last connection ended";
          r.last_seen = now;
          return true;
        },
        now);
    spdlog::info("css: box {} ({}) disconnected", rec->cb_name, rec->cb_id);
    return reply(HttpResponse{200, "application/json", "{}"});
  }
  return reply(refuse(req, 404, "no_such_endpoint", req.method + " " + req.path));
}

}  // namespace mobix
