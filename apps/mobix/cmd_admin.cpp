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
