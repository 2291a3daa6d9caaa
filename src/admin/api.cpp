#include "admin/api.hpp"

#include "admin/api_bodies.hpp"
#include "admin/api_util.hpp"
#include "admin/console.hpp"

#include <algorithm>
#include <ctime>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "codec/radius/radius.hpp"
#include "core/metrics.hpp"
#include "core/text.hpp"
#include "directory/directory.hpp"
#include "provisioning/registry.hpp"
#include "spine/session_view.hpp"

namespace mobix {

using json = nlohmann::json;
using admin::error;
using admin::iso8601;
using admin::merge;
using admin::ok;
using admin::registration_from;

namespace {

// An attribute holding a secret (mail.password, mail.smtp_password, ...): write-only.
bool secret_attr(const std::string& k) {
  return k.find("password") != std::string::npos || k.find("secret") != std::string::npos ||
         k.ends_with("key");
}

// Secrets are never returned: only whether one is set.
json to_json(const Subscriber& s) {
  json attrs = json::object(), secrets_set = json::array();
  for (const auto& [k, v] : s.attrs) {
    if (secret_attr(k))
      secrets_set.push_back(k);
    else
      attrs[k] = v;
  }
  return json{{"id", s.id},
              {"msisdn", s.msisdn},
              {"imsi", s.imsi},
              {"username", s.username},
              {"serial", s.serial},
              {"password_set", !s.password.empty()},
              {"framed_ip", s.framed_ip},
              {"hostname", s.hostname},
              {"attrs", attrs},
              {"secret_attrs_set", secrets_set}};
}

json to_json(const SessionRecord& r) {
  return json{{"sid", r.sid},
              {"ip", r.ipv4},
              {"ipv6_prefix", r.ipv6_prefix},
              {"msisdn", r.msisdn},
              {"imsi", r.imsi},
              {"username", r.username},
              {"apn", r.apn},
              {"nas", r.nas},
              {"acct_session_id", r.acct_session_id},
              {"subscriber_id", r.subscriber_id},
              {"started", iso8601(r.started)},
              {"last_seen", iso8601(r.last_seen)}};
}

json to_json(const BoxRecord& r) {
  json book = json::array();
  for (const auto& e : r.address_book)
    book.push_back({{"cb_name", e.cb_name}, {"friendly_name", e.friendly_name}});
  return json{{"cb_id", r.cb_id},
              {"cb_name", r.cb_name},
              {"friendly_name", r.friendly_name},
              {"serial", r.serial},
              {"line_id", r.line_id},
              {"state", to_string(r.state)},
              {"state_reason", r.state_reason},
              {"address_book", book},
              {"cert_serial", r.cert_serial},
              {"last_ip", r.last_ip},
              {"ab_seq", r.ab_seq},
              {"cfg_seq", r.cfg_seq},
              {"created", iso8601(r.created)},
              {"updated", iso8601(r.updated)},
              {"last_seen", r.last_seen ? iso8601(r.last_seen) : ""}};
}

/// The call center sees that billing data is on file, not the data (the SRMS keeps it).
std::string masked(const std::string& s) {
  return s.size() <= 4 ? std::string(s.size(), '*') : std::string(s.size() - 4, '*') + s.substr(s.size() - 4);
}

}  // namespace

// A web page the operator visits must not reach this API: no cross-site request (an Origin that is
// not this listener's), no DNS rebinding (a Host that is not an address, localhost or an allowed
// name), and no "simple" cross-site POST (JSON only: anything else needs a CORS preflight).
std::optional<HttpResponse> AdminApi::refuse_cross_site(const HttpRequest& req) const {
  std::string host = req.host;  // without its port; an IPv6 address in brackets
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  } else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  bool host_ok =
      !ec || host == "localhost" ||
      std::find(allowed_hosts_.begin(), allowed_hosts_.end(), ascii_lower(host)) != allowed_hosts_.end();
  const char* why = nullptr;
  if (!host_ok)
    why = "Host is not this admin listener";
  else if (!req.origin.empty() && req.origin != "http://" + req.host && req.origin != "https://" + req.host)
    why = "cross-site request";
  if (why) {
    spdlog::warn("admin: {} {} from {} refused: {} (Host {}, Origin {})", req.method, req.path, req.peer, why,
                 req.host, req.origin);
    return error(403, why);
  }
  bool writes = req.method == "POST" || req.method == "PATCH" || req.method == "PUT";
  auto type = ascii_lower(req.content_type.substr(0, req.content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  if (writes && type != "application/json") {
    spdlog::info("admin: {} {} from {} refused: Content-Type \"{}\", not application/json", req.method,
                 req.path, req.peer, req.content_type);
    return error(415, "send JSON with Content-Type: application/json");
  }
  return std::nullopt;
}

void AdminApi::handle(const HttpRequest& req, HttpReply reply) {
  static auto& requests = metrics().counter("mobix_admin_requests_total", "Admin HTTP requests");
  requests.inc();
  if (req.path == "/healthz") {
    // Degraded (503) while the store cannot commit: a load balancer moves NASes and clients away.
    auto why = degraded_ ? degraded_() : std::string();
    if (!why.empty()) return reply(HttpResponse{503, "text/plain", "degraded: " + why + "\n"});
    return reply(HttpResponse{200, "text/plain", "ok\n"});
  }
  if (req.path == "/metrics")
    return reply(HttpResponse{200, "text/plain; version=0.0.4", metrics().render()});
  if (req.path.rfind("/console", 0) == 0 && boxes_) {
    // The call-center page (seed 004 Phase I): static files; the data comes through /api/v1.
    if (req.method != "GET") return reply(error(405, "use GET"));
    if (auto asset = console_asset(req.path)) return reply(std::move(*asset));
    return reply(error(404, "no such page: " + req.path));
  }
  const std::string prefix = "/api/v1/";
  if (req.path.rfind(prefix, 0) != 0) return reply(error(404, "no such endpoint: " + req.path));
  if (auto refusal = refuse_cross_site(req)) return reply(std::move(*refusal));
  if (!token_.empty()) {
    std::string expect = "Bearer " + token_;
    if (!radius::constant_time_equal(
            std::span(reinterpret_cast<const std::uint8_t*>(expect.data()), expect.size()),
            std::span(reinterpret_cast<const std::uint8_t*>(req.authorization.data()),
                      req.authorization.size()))) {
      metrics().counter("mobix_admin_unauthorized_total", "Admin API requests without a valid token").inc();
      return reply(error(401, "missing or wrong bearer token"));
    }
  }
  auto rest = req.path.substr(prefix.size());
  auto slash = rest.find('/');
  auto collection = rest.substr(0, slash);
  auto key = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
  try {
    if (collection == "subscribers") return subscribers(req, key, reply);
    if (collection == "sessions") return sessions(req, key, reply);
    if (collection == "cb") return boxes(req, key, reply);
    if (collection == "devices" && devices_) return devices(req, key, reply);
    if (collection == "mip" && devices_) return bindings(req, key, reply);
    if (collection == "charges" && devices_) return charges(req, key, reply);
    return reply(error(404, "no such collection: " + collection));
  } catch (const RegistrationError& e) {
    auto resp = error(400, e.what());
    resp.body = json{{"error", e.what()}, {"fields", e.fields()}}.dump() + "\n";
    return reply(std::move(resp));
  } catch (const StoreConflict& e) {
    return reply(error(409, std::string("conflict: ") + e.what()));
  } catch (const std::invalid_argument& e) {
    return reply(error(400, e.what()));
  } catch (const json::exception& e) {
    return reply(error(400, std::string("bad JSON: ") + e.what()));
  }
}

void AdminApi::subscribers(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (key.empty()) {
    if (req.method == "GET") {
      json arr = json::array();
      for (const auto& s : dir_.list()) arr.push_back(to_json(s));
      return reply(ok(arr));
    }
    if (req.method == "POST") {
      Subscriber s;
      merge(s, json::parse(req.body));
      auto stored = dir_.add(std::move(s));
      spdlog::info("admin: subscriber {} added (msisdn={})", stored.id, stored.msisdn);
      return reply(ok(to_json(stored), 201));
    }
    return reply(error(405, "use GET or POST"));
  }
  auto found = dir_.find(key);
  if (!found && key.find_first_not_of("0123456789") == std::string::npos)
    found = dir_.find(IdentityKind::id, key);
  if (!found) return reply(error(404, "no subscriber with identity " + key));
  if (req.method == "GET") return reply(ok(to_json(*found)));
  if (req.method == "PATCH" || req.method == "PUT") {
    merge(*found, json::parse(req.body));
    dir_.update(*found);
    spdlog::info("admin: subscriber {} updated", found->id);
    return reply(ok(to_json(*dir_.find(IdentityKind::id, std::to_string(found->id)))));
  }
  if (req.method == "DELETE") {
    dir_.remove(found->id);
    spdlog::info("admin: subscriber {} removed", found->id);
    return reply(HttpResponse{204, "application/json", ""});
  }
  return reply(error(405, "use GET, PATCH or DELETE"));
}

void AdminApi::sessions(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (!sessions_ || !control_) return reply(error(404, "this node runs no access role"));
  if (key.empty()) {
    if (req.method != "GET") return reply(error(405, "use GET"));
    if (auto ip = query_param(req.query, "ip"); !ip.empty()) {
      auto s = sessions_->find_by_ip(ip);
      if (!s) return reply(error(404, "no live session holds " + ip));
      return reply(ok(to_json(*s)));
    }
    auto all = sessions_->list();
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.started < b.started; });
    json arr = json::array();
    for (const auto& s : all) arr.push_back(to_json(s));
    return reply(ok(arr));
  }
  if (req.method == "GET") {
    auto s = sessions_->find_by_ip(key);
    if (!s) return reply(error(404, "no live session holds " + key));
    return reply(ok(to_json(*s)));
  }
  if (req.method == "DELETE") {
    control_->purge(key, [reply, key](bool found) {
      if (found)
        reply(HttpResponse{204, "application/json", ""});
      else
        reply(error(404, "no live session holds " + key));
    });
    return;
  }
  return reply(error(405, "use GET or DELETE"));
}

// Seed 004 Phase I: the call center registers a box; its record then shows Phases II and III.
void AdminApi::boxes(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (!boxes_) return reply(error(404, "this node keeps no connectivity boxes (no css role)"));
  if (key.empty()) {
    if (req.method == "GET") {
      std::optional<BoxState> state;
      if (auto s = query_param(req.query, "state"); !s.empty()) {
        BoxState st;
        if (!box_state_from_string(s, st)) return reply(error(400, "no such state: " + s));
        state = st;
      }
      json arr = json::array();
      for (const auto& b : boxes_->list(state)) arr.push_back(to_json(b));
      return reply(ok(arr));
    }
    if (req.method == "POST") {
      auto rec = boxes_->register_box(registration_from(json::parse(req.body)),
                                      static_cast<std::int64_t>(std::time(nullptr)));
      metrics().counter("mobix_cb_registrations_total", "Boxes registered by the call center").inc();
      spdlog::info("admin: box {} registered as {} ({})", rec.serial, rec.cb_name, rec.cb_id);
      return reply(ok(to_json(rec), 201));
    }
    return reply(error(405, "use GET or POST"));
  }
  auto rec = boxes_->find(key);
  if (!rec) return reply(error(404, "no box with CB ID, CB Name or serial " + key));
  if (req.method != "GET") return reply(error(405, "use GET"));
  auto out = to_json(*rec);
  if (auto bill = boxes_->billing(rec->cb_id))
    out["subscriber"] = {
        {"name", bill->name}, {"street_address", bill->street_address}, {"billing", masked(bill->billing)}};
  return reply(ok(out));
}

}  // namespace mobix
