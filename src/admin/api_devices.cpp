// Seed 003's devices in the admin API: identity codes with the subscriber they belong to and their
// initiating information (home address, Mobile IP security association), and the Home Agent's
// binding table. The Mobile IP key is write-only: never returned, never logged.
#include <ctime>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/api.hpp"
#include "admin/api_bodies.hpp"
#include "admin/api_util.hpp"
#include "codec/mip/mip.hpp"
#include "directory/directory.hpp"
#include "store/store.hpp"

namespace mobix {

using json = nlohmann::json;
using admin::device_from;
using admin::error;
using admin::iso8601;
using admin::ok;
using admin::required_string;

namespace {

json binding_json(const MobilityBinding& b) {
  return json{{"home_address", b.home_address},
              {"care_of", b.care_of},
              {"expires", iso8601(b.expires)},
              {"registered", iso8601(b.registered)}};
}

json device_json(const Device& d) {
  return json{{"identity_code", d.identity_code},      {"subscriber_id", d.subscriber_id},
              {"home_address", d.home_address},        {"mip_spi", d.mip_spi},
              {"mip_key_set", !d.mip_key_hex.empty()}, {"created", iso8601(d.created)}};
}

}  // namespace

void AdminApi::devices(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (key.empty()) {
    if (req.method == "GET") {
      json arr = json::array();
      for (const auto& d : devices_->list_devices()) arr.push_back(device_json(d));
      return reply(ok(arr));
    }
    if (req.method != "POST") return reply(error(405, "use GET or POST"));
    auto body = json::parse(req.body);
    auto d = device_from(body);
    auto owner = dir_.find(required_string(body, "subscriber"));
    if (!owner) return reply(error(404, "no subscriber " + body["subscriber"].get<std::string>()));
    d.subscriber_id = owner->id;
    devices_->add_device(d);
    spdlog::info("admin: device {} added for subscriber {} (home address {})", d.identity_code,
                 d.subscriber_id, d.home_address);
    return reply(ok(device_json(d), 201));
  }
  auto d = devices_->find_device(DeviceKey::identity_code, key);
  if (!d) return reply(error(404, "no device " + key));
  if (req.method == "GET") {
    auto j = device_json(*d);
    auto b = devices_->find_mobility_binding(d->home_address);
    if (b && !b->care_of.empty() && b->expires > std::time(nullptr)) j["binding"] = binding_json(*b);
    return reply(ok(j));
  }
  if (req.method == "DELETE") {
    devices_->remove_device(key);
    spdlog::info("admin: device {} removed", key);
    return reply(HttpResponse{204, "application/json", ""});
  }
  return reply(error(405, "use GET or DELETE"));
}

/// GET /api/v1/charges[?principal=]: the billing service's call records (seed 003).
void AdminApi::charges(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (!key.empty()) return reply(error(404, "no such collection: charges/" + key));
  if (req.method != "GET") return reply(error(405, "use GET"));
  json arr = json::array();
  for (const auto& r : devices_->list_call_records(query_param(req.query, "principal")))
    arr.push_back(json{{"principal", r.principal},
                       {"call_id", r.call_id},
                       {"callee", r.callee},
                       {"started", iso8601(r.started)},
                       {"seconds", r.seconds},
                       {"recorded", iso8601(r.recorded)}});
  return reply(ok(arr));
}

/// GET /api/v1/mip/bindings: where each registered home address is reachable now (the Home
/// Agent's table, from the store: every node's registrations).
void AdminApi::bindings(const HttpRequest& req, const std::string& key, HttpReply& reply) {
  if (key != "bindings") return reply(error(404, "no such collection: mip/" + key));
  if (req.method != "GET") return reply(error(405, "use GET"));
  json arr = json::array();
  auto now = std::time(nullptr);
  for (const auto& b : devices_->load_mobility_bindings())
    if (!b.care_of.empty() && b.expires > now) arr.push_back(binding_json(b));
  return reply(ok(arr));
}

}  // namespace mobix
