// `mobix sim device on|off|status --id CODE`: a seed 003 device and its base station. Switched on,
// the device gives its identity code to the base station, which reports it to the mobility manager
// with the care-of address of the network it is attached to; switched off, the base station says so.
// A base station repeats "on" as a heartbeat; a new --care-of is the device moving (claim 5).
#include <unistd.h>

#include <ctime>
#include <memory>

#include <nlohmann/json.hpp>

#include "admin/http_client.hpp"
#include "commands.hpp"
#include "lab_file.hpp"

namespace mobix::cli {

namespace {

struct DeviceOptions {
  std::string id, mm = "127.0.0.1:8450", care_of, lab_dir, to, call_id;
  unsigned seconds = 60;
};

int device_call(const DeviceOptions& o, const std::string& action) {
  auto mm = o.lab_dir.empty()
                ? parse_endpoint(o.mm)
                : std::optional<Endpoint>(lab_endpoint(read_lab(o.lab_dir), "mobility_manager.http"));
  if (!mm) throw std::runtime_error("--mm must be host:port");
  HttpResponse r;
  if (action == "status") {
    r = http_call(*mm, "GET", "/v1/devices/" + o.id);
  } else if (action == "call") {
    auto call_id = o.call_id.empty()
                       ? "call-" + std::to_string(std::time(nullptr)) + "-" + std::to_string(::getpid())
                       : o.call_id;
    auto body = nlohmann::json{{"call_id", call_id}, {"callee", o.to}, {"seconds", o.seconds}}.dump();
    r = http_call(*mm, "POST", "/v1/devices/" + o.id + "/calls", body);
  } else if (action == "dial") {  // the call lasts --seconds: wait for it, and for the SIP around it
    auto body = nlohmann::json{{"to", o.to}, {"seconds", o.seconds}}.dump();
    r = http_call(*mm, "POST", "/v1/devices/" + o.id + "/dial", body, {},
                  std::chrono::seconds(o.seconds + 70));
  } else {
    std::string body = action == "on" ? nlohmann::json{{"care_of", o.care_of}}.dump() : "{}";
    r = http_call(*mm, "POST", "/v1/devices/" + o.id + "/" + action, body);
  }
  std::cout << r.body;
  if (!r.body.empty() && r.body.back() != '\n') std::cout << "\n";
  return r.status / 100 == 2 ? 0 : kExitFailure;
}

}  // namespace

void add_sim_device(CLI::App* sim, int& exit_code) {
  auto o = std::make_shared<DeviceOptions>();
  auto* dev = sim->add_subcommand("device",
                                  "Play a seed 003 device and its base station towards the mobility manager");
  dev->require_subcommand(1);
  const std::pair<const char*, const char*> actions[] = {
      {"on", "Switch the device on (or report it again: a heartbeat)"},
      {"off", "Switch the device off"},
      {"status", "Show how the mobility manager represents it"},
      {"call", "A call by the device: its proxy posts the charge to the billing service"},
      {"dial", "A secure call to another device (SIP, Kerberos-keyed SRTP), charged on both sides"}};
  for (const auto& [action, help] : actions) {
    auto* c = dev->add_subcommand(action, help);
    c->add_option("--id", o->id, "the device's identity code")->required();
    c->add_option("--mm", o->mm, "the mobility manager's host:port");
    c->add_option("--lab", o->lab_dir, "lab directory (reads the mobility manager from lab.json)");
    std::string a = action;
    if (a == "on") c->add_option("--care-of", o->care_of, "the care-of address of its network")->required();
    if (a == "dial") {
      c->add_option("--to", o->to, "the callee's identity code")->required();
      c->add_option("--seconds", o->seconds, "how long the call lasts before the caller hangs up");
    }
    if (a == "call") {
      c->add_option("--to", o->to, "the callee's identity code")->required();
      c->add_option("--seconds", o->seconds, "the call's duration");
      c->add_option("--call-id", o->call_id, "the call's id (a retry with the same id is one charge)");
    }
    c->callback(guarded("sim device", exit_code, [o, &exit_code, a] { exit_code = device_call(*o, a); }));
  }
}

}  // namespace mobix::cli
