// `mobix admin`: the operator's CLI, a client of the admin JSON API (/api/v1).
#include <iostream>

#include <fmt/format.h>

#include "admin/http_client.hpp"
#include "commands.hpp"
#include "lab_file.hpp"

namespace mobix::cli {
namespace {

using json = nlohmann::json;

struct AdminOptions {
  std::string lab_dir, url = "127.0.0.1:9100", token;
  bool as_json = false;
  // subscriber fields
  std::string key, msisdn, imsi, username, serial, password, framed_ip, hostname, ip;
  std::vector<std::string> attrs;
  // connectivity box registration (seed 004 Phase I)
  std::string cb_name, friendly_name, line_id, name, street_address, billing, state;
  std::vector<std::string> book;
};

Endpoint server(const AdminOptions& o) {
  if (!o.lab_dir.empty()) return lab_endpoint(read_lab(o.lab_dir), "admin.http");
  auto ep = parse_endpoint(o.url);
  if (!ep) throw std::invalid_argument("--url must be host:port");
  return *ep;
}

json call(const AdminOptions& o, const std::string& method, const std::string& target,
          const std::string& body = {}) {
  auto res = http_call(server(o), method, target, body, o.token);
  if (res.status >= 300) {
    std::string msg = res.body;
    auto j = json::parse(res.body, nullptr, false);
    if (j.is_object() && j.contains("error")) msg = j["error"].get<std::string>();
    throw std::runtime_error(fmt::format("HTTP {}: {}", res.status, msg));
  }
  if (res.body.empty()) return json();
  return json::parse(res.body);
}

json fields(const AdminOptions& o) {
  json j = json::object();
  auto set = [&](const char* k, const std::string& v) {
    if (!v.empty()) j[k] = v;
  };
  set("msisdn", o.msisdn);
  set("imsi", o.imsi);
  set("username", o.username);
  set("serial", o.serial);
  set("password", o.password);
  set("framed_ip", o.framed_ip);
  set("hostname", o.hostname);
  for (const auto& a : o.attrs) {
    auto eq = a.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--attr takes key=value (empty value removes)");
    if (eq + 1 == a.size())
      j["attrs"][a.substr(0, eq)] = nullptr;
    else
      j["attrs"][a.substr(0, eq)] = a.substr(eq + 1);
  }
  return j;
}

void print_subscribers(const json& arr) {
  std::cout << fmt::format("{:>4}  {:<15} {:<16} {:<12} {:<10} {:<15} {}\n", "id", "msisdn", "imsi",
                           "username", "serial", "framed_ip", "hostname");
  for (const auto& s : arr)
    std::cout << fmt::format("{:>4}  {:<15} {:<16} {:<12} {:<10} {:<15} {}\n", s["id"].get<std::int64_t>(),
                             s["msisdn"].get<std::string>(), s["imsi"].get<std::string>(),
                             s["username"].get<std::string>(), s["serial"].get<std::string>(),
                             s["framed_ip"].get<std::string>(), s["hostname"].get<std::string>());
}

void print_sessions(const json& arr) {
  std::cout << fmt::format("{:<15} {:<15} {:<10} {:<12} {:<20} {}\n", "ip", "msisdn", "apn", "nas", "started",
                           "ipv6_prefix");
  for (const auto& s : arr)
    std::cout << fmt::format("{:<15} {:<15} {:<10} {:<12} {:<20} {}\n", s["ip"].get<std::string>(),
                             s["msisdn"].get<std::string>(), s["apn"].get<std::string>(),
                             s["nas"].get<std::string>(), s["started"].get<std::string>(),
                             s["ipv6_prefix"].get<std::string>());
}

json registration(const AdminOptions& o) {
  json j{{"serial", o.serial},
         {"line_id", o.line_id},
         {"name", o.name},
         {"street_address", o.street_address},
         {"billing", o.billing}};
  if (!o.cb_name.empty()) j["cb_name"] = o.cb_name;
  if (!o.friendly_name.empty()) j["friendly_name"] = o.friendly_name;
  json book = json::array();
  for (const auto& e : o.book) {
    auto eq = e.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--contact takes CB_NAME=Friendly Name");
    book.push_back({{"cb_name", e.substr(0, eq)}, {"friendly_name", e.substr(eq + 1)}});
  }
  j["address_book"] = book;
  return j;
}

void print_boxes(const json& arr) {
  std::cout << fmt::format("{:<20} {:<14} {:<16} {:<14} {:<13} {}\n", "cb_id", "cb_name", "serial", "line_id",
                           "state", "reason");
  for (const auto& b : arr)
    std::cout << fmt::format("{:<20} {:<14} {:<16} {:<14} {:<13} {}\n", b["cb_id"].get<std::string>(),
                             b["cb_name"].get<std::string>(), b["serial"].get<std::string>(),
                             b["line_id"].get<std::string>(), b["state"].get<std::string>(),
                             b["state_reason"].get<std::string>());
}

void add_cb(CLI::App* admin, const std::shared_ptr<AdminOptions>& o,
            const std::function<std::function<void()>(std::function<void()>)>& wrap) {
  auto* cb = admin->add_subcommand("cb", "Connectivity boxes (seed 004): register, show, list");
  cb->require_subcommand(1);
  auto* reg = cb->add_subcommand("register", "Register a box to its user (the call center, Phase I)");
  reg->add_option("--serial", o->serial, "the serial number on the box's label")->required();
  reg->add_option("--line", o->line_id, "the phone number of the line the box will use")->required();
  reg->add_option("--name", o->name, "the user's name")->required();
  reg->add_option("--address", o->street_address, "the user's street address")->required();
  reg->add_option("--billing", o->billing, "billing reference (kept apart from the box record)")->required();
  reg->add_option("--cb-name", o->cb_name, "the box's globally unique name (default: generated)");
  reg->add_option("--friendly-name", o->friendly_name, "how others see it (default: the user's name)");
  reg->add_option("--contact", o->book, "initial address book entry CB_NAME=Friendly Name (repeatable)");
  reg->callback(wrap([o] {
    auto rec = call(*o, "POST", "/api/v1/cb", registration(*o).dump());
    if (o->as_json)
      std::cout << rec.dump(2) << "\n";
    else
      std::cout << "registered " << rec["serial"].get<std::string>() << " as "
                << rec["cb_name"].get<std::string>() << " (" << rec["cb_id"].get<std::string>() << ")\n";
  }));
  auto* show = cb->add_subcommand("show", "Show a box by CB ID, CB Name or serial");
  show->add_option("key", o->key)->required();
  show->callback(wrap([o] { std::cout << call(*o, "GET", "/api/v1/cb/" + o->key).dump(2) << "\n"; }));
  auto* list = cb->add_subcommand("list", "List boxes and their states");
  list->add_option("--state", o->state, "registered, configuring, configured, config_error or online");
  list->callback(wrap([o] {
    auto arr = call(*o, "GET", "/api/v1/cb" + (o->state.empty() ? std::string() : "?state=" + o->state));
    if (o->as_json)
      std::cout << arr.dump(2) << "\n";
    else
      print_boxes(arr);
  }));
}

}  // namespace

void add_admin(CLI::App& app, int& exit_code) {
  auto* admin = app.add_subcommand("admin", "Manage subscribers and sessions through the admin API");
  admin->require_subcommand(1);
  auto o = std::make_shared<AdminOptions>();
  admin->add_option("--lab", o->lab_dir, "lab directory (reads lab.json)");
  admin->add_option("--url", o->url, "admin API host:port");
  admin->add_option("--token", o->token, "bearer token, when the API requires one")
      ->envname("MOBIX_ADMIN_TOKEN");
  admin->add_flag("--json", o->as_json, "print JSON instead of tables");

  auto wrap = [&exit_code](std::function<void()> f) { return guarded("admin", exit_code, std::move(f)); };
  auto subscriber_fields = [o](CLI::App* c) {
    c->add_option("--msisdn", o->msisdn);
    c->add_option("--imsi", o->imsi);
    c->add_option("--username", o->username);
    c->add_option("--serial", o->serial);
    c->add_option("--password", o->password, "access (PAP/CHAP) password");
    c->add_option("--framed-ip", o->framed_ip, "fixed IPv4 address instead of a pool address");
    c->add_option("--hostname", o->hostname);
    c->add_option("--attr", o->attrs, "role attribute key=value (repeatable)");
  };

  auto* sub = admin->add_subcommand("subscriber", "Subscriber profiles in the directory");
  sub->require_subcommand(1);
  auto* add = sub->add_subcommand("add", "Add a subscriber");
  subscriber_fields(add);
  add->callback(
      wrap([o] { std::cout << call(*o, "POST", "/api/v1/subscribers", fields(*o).dump()).dump(2) << "\n"; }));
  auto* show =
      sub->add_subcommand("show", "Show a subscriber by any identity (MSISDN, IMSI, user name, serial, id)");
  show->add_option("identity", o->key)->required();
  show->callback(
      wrap([o] { std::cout << call(*o, "GET", "/api/v1/subscribers/" + o->key).dump(2) << "\n"; }));
  auto* list = sub->add_subcommand("list", "List subscribers");
  list->callback(wrap([o] {
    auto arr = call(*o, "GET", "/api/v1/subscribers");
    if (o->as_json)
      std::cout << arr.dump(2) << "\n";
    else
      print_subscribers(arr);
  }));
  auto* set = sub->add_subcommand("set", "Change fields of a subscriber");
  set->add_option("identity", o->key)->required();
  subscriber_fields(set);
  set->callback(wrap([o] {
    std::cout << call(*o, "PATCH", "/api/v1/subscribers/" + o->key, fields(*o).dump()).dump(2) << "\n";
  }));
  auto* rm = sub->add_subcommand("remove", "Remove a subscriber");
  rm->add_option("identity", o->key)->required();
  rm->callback(wrap([o] {
    call(*o, "DELETE", "/api/v1/subscribers/" + o->key);
    std::cout << "removed " << o->key << "\n";
  }));

  add_cb(admin, o, wrap);

  auto* sessions = admin->add_subcommand("sessions", "List live access sessions");
  sessions->add_option("--ip", o->ip, "only the session holding this IP");
  sessions->callback(wrap([o] {
    auto res = o->ip.empty() ? call(*o, "GET", "/api/v1/sessions")
                             : json::array({call(*o, "GET", "/api/v1/sessions/" + o->ip)});
    if (o->as_json)
      std::cout << res.dump(2) << "\n";
    else
      print_sessions(res);
  }));
  auto* purge = admin->add_subcommand("purge", "End the session holding an IP (frees the address)");
  purge->add_option("ip", o->ip)->required();
  purge->callback(wrap([o] {
    call(*o, "DELETE", "/api/v1/sessions/" + o->ip);
    std::cout << "purged " << o->ip << "\n";
  }));
}

}  // namespace mobix::cli
