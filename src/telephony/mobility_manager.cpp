#include "telephony/mobility_manager.hpp"

#include <ctime>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <nlohmann/json.hpp>

#include "core/metrics.hpp"
#include "core/text.hpp"
#include "net/tls_context.hpp"
#include "telephony/mobility_manager_impl.hpp"

namespace mobix {

namespace telephony {

namespace asio = boost::asio;
using json = nlohmann::json;

MobilityManager::MobilityManager(RoleContext& ctx)
    : io_(ctx.io),
      cfg_(*ctx.cfg.mobility_manager),
      realm_(ctx.cfg.kerberos->realm),
      keys_(std::make_shared<krb::KeyTable>(cfg_.keytab)),
      pool_(cfg_.bootstrap_threads),
      tls_(net::make_client_tls_context(cfg_.ca_file)) {
  HttpServerOptions o;
  o.name = "mobility_manager";
  o.body_limit = 4 << 10;
  o.read_timeout = std::chrono::seconds(10);
  server_ = std::make_unique<HttpServer>(
      io_, cfg_.listen, [this](const HttpRequest& r, HttpReply reply) { handle(r, std::move(reply)); }, o);
  if (cfg_.sip_listen)
    calls_ = std::make_unique<CallAgent>(
        io_, cfg_, realm_, pool_, keys_,
        CallHooks{[this](const std::string& code) { return represented(code); },
                  [this](std::shared_ptr<DeviceProxy> d, std::string body) {
                    if (!cfg_.billing) return;  // no billing service: calls are not charged
                    asio::co_spawn(io_, charge(std::move(d), std::move(body), [](HttpResponse) {}),
                                   asio::detached);
                  }});
  metrics().gauge_family(
      "mobix_mm_devices", "Devices the mobility manager represents, by state (seed 003)", [this] {
        std::map<std::string, double> by;
        for (auto s : {DeviceState::queued, DeviceState::bootstrapping, DeviceState::registering,
                       DeviceState::active, DeviceState::retrying, DeviceState::stopping})
          by[to_string(s)] = 0;
        for (const auto& [code, d] : devices_) by[to_string(d->state)] += 1;
        std::vector<std::pair<std::string, double>> out;
        for (const auto& [k, v] : by) out.push_back({"state=\"" + k + "\"", v});
        return out;
      });
}

MobilityManager::~MobilityManager() {
  pool_.join();
}

void MobilityManager::start() {
  mip_ = std::make_unique<mip::RegistrationClient>(io_);
  server_->start();
  if (calls_) calls_->start();
  spdlog::info("mobility_manager: base stations report on http://{}; devices are <code>@{}",
               server_->local_endpoint().str(), realm_);
}

void MobilityManager::stop() {
  stopping_ = true;
  server_->stop();
  if (calls_) calls_->stop();
  // Every proxy deregisters its device (bounded by the retransmission schedule) and ends.
  for (auto& [code, d] : devices_) {
    d->off = true;
    d->wake.cancel();
  }
}

bool MobilityManager::drained() const {
  return devices_.empty() && server_->drained() && (!calls_ || calls_->drained());
}

void MobilityManager::listeners(Listeners& out) const {
  out["mobility_manager.http"] = {server_->local_endpoint(), "http"};
  if (calls_) out["mobility_manager.sip"] = {calls_->local_endpoint(), "sip (udp, tcp)"};
}

std::int64_t MobilityManager::now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

void MobilityManager::count(const std::string& name, const std::string& outcome) {
  static const std::map<std::string, std::string> help{
      {"mobix_mm_reports_total", "Base station reports by outcome (seed 003)"},
      {"mobix_mm_bootstraps_total",
       "Device bootstraps (tickets, initiating information, Mobile IP) by outcome"},
      {"mobix_mm_ticket_renewals_total", "Device ticket renewals by outcome"},
      {"mobix_mm_charges_total", "Charges posted for represented devices, by outcome (seed 003 billing)"}};
  metrics().counter(name, help.at(name), "outcome=\"" + outcome + "\"").inc();
}

HttpResponse MobilityManager::refuse(int status, const std::string& outcome, const std::string& peer,
                                     const std::string& detail) {
  count("mobix_mm_reports_total", outcome);
  if (log_limit_.allow(outcome) >= 0)
    spdlog::warn("mobility_manager: refused a report from {}: {} ({})", peer, outcome, detail);
  return HttpResponse{status, "application/json", json{{"error", outcome}, {"detail", detail}}.dump() + "\n"};
}

namespace {

json device_json(const DeviceProxy& d) {
  json j{
      {"identity_code", d.code}, {"state", to_string(d.state)}, {"care_of", mip::ipv4_to_string(d.care_of)}};
  if (!d.reason.empty()) j["reason"] = d.reason;
  if (d.info.home_address) j["home_address"] = mip::ipv4_to_string(d.info.home_address);
  if (!d.info.user_name.empty()) j["user_name"] = d.info.user_name;
  if (d.tickets) j["tickets_expire"] = d.tickets->expires();
  if (d.registered_care_of) j["registered_care_of"] = mip::ipv4_to_string(d.registered_care_of);
  return j;
}

}  // namespace

void MobilityManager::handle(const HttpRequest& req, HttpReply reply) {
  boost::system::error_code ec;
  auto peer = asio::ip::make_address(req.peer, ec);
  // Identity only from trusted ranges: a stranger who knows an identity code cannot switch it on.
  if (ec || !in_ranges(cfg_.base_stations, peer))
    return reply(refuse(403, "not_a_base_station", req.peer, req.method + " " + req.path));
  const std::string prefix = "/v1/devices";
  if (req.path.rfind(prefix, 0) != 0) return reply(refuse(404, "no_such_endpoint", req.peer, req.path));
  auto rest = req.path.substr(prefix.size());
  if (req.method == "GET") {
    if (rest.empty() || rest == "/") {
      json arr = json::array();
      for (const auto& [code, d] : devices_) arr.push_back(device_json(*d));
      return reply(HttpResponse{200, "application/json", arr.dump(2) + "\n"});
    }
    auto it = devices_.find(rest.substr(1));
    if (it == devices_.end())
      return reply(HttpResponse{404, "application/json", "{\"error\":\"not represented\"}\n"});
    return reply(HttpResponse{200, "application/json", device_json(*it->second).dump(2) + "\n"});
  }
  // POST /v1/devices/<code>/on | /off | /calls | /dial
  auto slash = rest.rfind('/');
  std::string code = slash == std::string::npos || slash == 0 ? "" : rest.substr(1, slash - 1);
  std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (req.method != "POST" || rest.empty() || rest.front() != '/' || !is_identity_token(code) ||
      (action != "on" && action != "off" && action != "calls" && action != "dial"))
    return reply(refuse(404, "no_such_endpoint", req.peer, req.method + " " + req.path));
  if (action == "on" || action == "off") return reply(report(code, action == "on", req.body, req.peer));
  auto it = devices_.find(code);
  if (action == "dial") {
    if (!calls_)
      return reply(refuse(404, "no_calls", req.peer, "mobility_manager.sip_listen is not configured"));
    if (!represented(code))
      return reply(refuse(409, "not_represented", req.peer, code + " is not represented"));
    return dial(it->second, req, std::move(reply));
  }
  if (!cfg_.billing) return reply(refuse(404, "no_billing", req.peer, "no billing service is configured"));
  if (it == devices_.end() || it->second->state != DeviceState::active || !it->second->tickets)
    return reply(refuse(409, "not_represented", req.peer, code + " is not represented"));
  asio::co_spawn(io_, charge(it->second, req.body, std::move(reply)), asio::detached);
}

std::shared_ptr<DeviceProxy> MobilityManager::represented(const std::string& code) const {
  auto it = devices_.find(code);
  if (it == devices_.end() || it->second->state != DeviceState::active || !it->second->tickets)
    return nullptr;
  return it->second;
}

void MobilityManager::dial(std::shared_ptr<DeviceProxy> d, const HttpRequest& req, HttpReply reply) {
  auto j = json::parse(req.body, nullptr, false);
  bool valid = j.is_object() && j.contains("to") && j["to"].is_string() &&
               is_identity_token(j["to"].get<std::string>()) && j.contains("seconds") &&
               j["seconds"].is_number_unsigned() && j["seconds"].get<std::uint64_t>() >= 1 &&
               j["seconds"].get<std::uint64_t>() <= cfg_.max_call_seconds;
  if (!valid)
    return reply(
        refuse(400, "bad_report", req.peer,
               "the body must be {\"to\": \"<identity code>\", \"seconds\": 1 to max_call_seconds}"));
  auto work = [this, d, to = j["to"].get<std::string>(), secs = j["seconds"].get<std::uint32_t>(),
               reply = std::move(reply)]() -> asio::awaitable<void> {
    auto r = co_await calls_->dial(d, to, secs);
    reply(HttpResponse{r.status, "application/json", r.body.dump() + "\n"});
  };
  asio::co_spawn(io_, std::move(work), asio::detached);
}

/// A device switched on (with where it is attached) or off; an "on" for a represented device is its
/// heartbeat, and a new care-of address in it is the device moving (claim 5).
HttpResponse MobilityManager::report(const std::string& code, bool on, const std::string& body,
                                     const std::string& peer) {
  auto it = devices_.find(code);
  if (!on) {
    if (it == devices_.end())
      return refuse(404, "not_represented", peer, code + " switched off but was not on");
    it->second->off = true;
    it->second->wake.cancel();
    count("mobix_mm_reports_total", "off");
    spdlog::info("mobility_manager: {} switched off (reported by {})", code, peer);
    return HttpResponse{202, "application/json", device_json(*it->second).dump() + "\n"};
  }
  auto j = json::parse(body, nullptr, false);
  auto care_of = j.is_object() && j.contains("care_of") && j["care_of"].is_string()
                     ? mip::ipv4_from_string(j["care_of"].get<std::string>())
                     : std::nullopt;
  if (!care_of || *care_of == 0)
    return refuse(400, "bad_report", peer, "the body must be {\"care_of\": \"<IPv4 address>\"}");
  if (stopping_) return refuse(503, "stopping", peer, "the mobility manager is stopping");
  if (it != devices_.end() && !it->second->off) {
    auto& d = *it->second;
    d.last_heard = now();
    if (d.care_of != *care_of) {
      d.care_of = *care_of;
      d.wake.cancel();
      spdlog::info("mobility_manager: {} moved to {}", code, mip::ipv4_to_string(*care_of));
    }
    count("mobix_mm_reports_total", "heartbeat");
    return HttpResponse{202, "application/json", device_json(d).dump() + "\n"};
  }
  if (it != devices_.end())
    return refuse(409, "still_stopping", peer, code + " is still deregistering; report again");
  auto d = std::make_shared<DeviceProxy>(io_.get_executor());
  d->code = code;
  d->care_of = *care_of;
  d->last_heard = now();
  devices_[code] = d;
  count("mobix_mm_reports_total", "on");
  spdlog::info("mobility_manager: {} switched on at {} (reported by {})", code, mip::ipv4_to_string(*care_of),
               peer);
  asio::co_spawn(io_, run_device(d), asio::detached);
  return HttpResponse{202, "application/json", device_json(*d).dump() + "\n"};
}

}  // namespace telephony

std::unique_ptr<Role> make_mobility_manager_role(RoleContext& ctx) {
  return std::make_unique<telephony::MobilityManager>(ctx);
}

}  // namespace mobix
