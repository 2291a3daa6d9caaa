// `mobix sim`: the access network's side (a GGSN/P-GW acting as RADIUS NAS), so the lab
// is driven by the same protocol as a real network.
#include <openssl/rand.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "codec/radius/radius.hpp"
#include "commands.hpp"
#include "lab_file.hpp"
#include "sim/radius_client.hpp"

namespace mobix::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct SimOptions {
  std::string lab_dir, auth, acct, secret, msisdn, password, username, imsi, apn,
      nas = "mobix-sim", ipv6_prefix, state_dir, network = "home";
  int timeout_ms = 1000;
};

struct Target {
  Endpoint auth, acct;
  std::string secret, password, username, imsi, apn, state_dir;
};

Target resolve(const SimOptions& o) {
  Target t;
  if (!o.lab_dir.empty()) {
    auto lab = read_lab(o.lab_dir);
    // Seed 002: the lab runs a home and a visited network; a terminal attaching at the visited
    // one is a roamer, known there only by its NAI (user@home-realm, RFC 7542).
    bool visited = o.network == "visited";
    if (!visited && o.network != "home") throw std::runtime_error("--network is home or visited");
    if (visited && !lab.contains("networks")) throw std::runtime_error("this lab runs no visited network");
    t.auth = lab_endpoint(lab, visited ? "visited.radius_auth" : "access.radius_auth");
    t.acct = lab_endpoint(lab, visited ? "visited.radius_acct" : "access.radius_acct");
    t.secret = lab["radius_secret"].get<std::string>();
    t.apn = lab.value("apn", "");
    for (const auto& s : lab["subscribers"])
      if (s["msisdn"].get<std::string>() == o.msisdn) {
        t.password = s.value("password", "");
        t.username = s.value("username", "");
        t.imsi = s.value("imsi", "");
        if (visited && !t.username.empty())
          t.username += "@" + lab["networks"]["home"]["realm"].get<std::string>();
      }
    t.state_dir = o.lab_dir + (visited ? "/sim-visited" : "/sim");
  }
  if (!o.auth.empty()) t.auth = parse_endpoint(o.auth).value();
  if (!o.acct.empty()) t.acct = parse_endpoint(o.acct).value();
  if (!o.secret.empty()) t.secret = o.secret;
  if (!o.password.empty()) t.password = o.password;
  if (!o.username.empty()) t.username = o.username;
  if (!o.imsi.empty()) t.imsi = o.imsi;
  if (!o.apn.empty()) t.apn = o.apn;
  if (!o.state_dir.empty()) t.state_dir = o.state_dir;
  if (t.state_dir.empty()) t.state_dir = ".mobix-sim";
  if (t.secret.empty()) throw std::runtime_error("no RADIUS secret: give --lab DIR or --secret");
  return t;
}

void add_identity(radius::Packet& p, const SimOptions& o, const Target& t) {
  if (!t.username.empty()) p.add_text(radius::attr::user_name, t.username);
  p.add_text(radius::attr::calling_station_id, o.msisdn);
  if (!t.apn.empty()) p.add_text(radius::attr::called_station_id, t.apn);
  p.add_text(radius::attr::nas_identifier, o.nas);
  p.add_ipv4(radius::attr::nas_ip_address, "127.0.0.1");
  if (!t.imsi.empty()) p.add_vendor_text(radius::kVendor3gpp, radius::k3gppImsi, t.imsi);
}

std::string state_file(const Target& t, const std::string& msisdn) {
  return t.state_dir + "/" + msisdn + ".json";
}

json load_state(const Target& t, const std::string& msisdn) {
  std::ifstream in(state_file(t, msisdn));
  if (!in) throw std::runtime_error("no attached session for " + msisdn + " (run `mobix sim attach` first)");
  return json::parse(in);
}

radius::Packet accounting(const SimOptions& o, const Target& t, const json& st, radius::AcctStatus status) {
  radius::Packet p;
  p.add_integer(radius::attr::acct_status_type, static_cast<std::uint32_t>(status));
  p.add_text(radius::attr::acct_session_id, st["acct_session_id"].get<std::string>());
  if (!st["ip"].get<std::string>().empty())
    p.add_ipv4(radius::attr::framed_ip_address, st["ip"].get<std::string>());
  // RFC 2865 5.25: a NAS sends the Access-Accept's Class back unchanged in its accounting.
  if (st.contains("class")) p.add_text(radius::attr::class_, st["class"].get<std::string>());
  add_identity(p, o, t);
  return p;
}

void send_accounting(const SimOptions& o, const Target& t, const radius::Packet& p) {
  sim::RadiusClient acct(t.acct, t.secret, o.timeout_ms);
  auto reply = acct.accounting(p);
  if (!reply) throw std::runtime_error("no Accounting-Response from " + t.acct.str());
}

int attach(const SimOptions& o) {
  auto t = resolve(o);
  radius::Packet req;
  add_identity(req, o, t);
  sim::RadiusClient auth(t.auth, t.secret, o.timeout_ms);
  auto reply = auth.access(req, t.password);
  if (!reply) throw std::runtime_error("no reply from " + t.auth.str());
  if (reply->code != radius::Code::access_accept) {
    std::cerr << "Access-Reject: " << reply->text(radius::attr::reply_message).value_or("(no reason)")
              << "\n";
    return kExitFailure;
  }
  auto ip = reply->ipv4(radius::attr::framed_ip_address).value_or("");
  unsigned char rnd[8];
  RAND_bytes(rnd, sizeof rnd);
  std::string acct_id;
  for (auto b : rnd) acct_id += fmt::format("{:02X}", b);
  json st{{"ip", ip}, {"acct_session_id", acct_id}, {"apn", t.apn}};
  if (auto cls = reply->text(radius::attr::class_)) st["class"] = *cls;
  auto p = accounting(o, t, st, radius::AcctStatus::start);
  if (!o.ipv6_prefix.empty()) {
    auto slash = o.ipv6_prefix.find('/');
    auto addr = boost::asio::ip::make_address_v6(o.ipv6_prefix.substr(0, slash));
    auto len = static_cast<std::uint8_t>(std::stoi(o.ipv6_prefix.substr(slash + 1)));
    std::vector<std::uint8_t> v{0, len};
    auto bytes = addr.to_bytes();
    v.insert(v.end(), bytes.begin(), bytes.begin() + (len + 7) / 8);
    p.add(radius::attr::framed_ipv6_prefix, v);
    st["ipv6_prefix"] = o.ipv6_prefix;
  }
  send_accounting(o, t, p);
  fs::create_directories(t.state_dir);
  std::ofstream(state_file(t, o.msisdn)) << st.dump(2) << "\n";
  std::cout << "attached msisdn " << o.msisdn << " acct-session-id " << acct_id << "\n" << ip << std::endl;
  return 0;
}

int interim(const SimOptions& o) {
  auto t = resolve(o);
  auto st = load_state(t, o.msisdn);
  send_accounting(o, t, accounting(o, t, st, radius::AcctStatus::interim_update));
  std::cout << "interim-update sent for " << o.msisdn << " (" << st["ip"].get<std::string>() << ")\n";
  return 0;
}

int detach(const SimOptions& o) {
  auto t = resolve(o);
  auto st = load_state(t, o.msisdn);
  auto p = accounting(o, t, st, radius::AcctStatus::stop);
  p.add_integer(radius::attr::acct_terminate_cause, 1);  // User-Request
  send_accounting(o, t, p);
  fs::remove(state_file(t, o.msisdn));
  std::cout << "detached " << o.msisdn << " (" << st["ip"].get<std::string>() << ")\n";
  return 0;
}

}  // namespace

void add_sim(CLI::App& app, int& exit_code) {
  auto* sim = app.add_subcommand(
      "sim", "Act as the access network (GGSN/P-GW as RADIUS NAS) for one handset, or as a device");
  sim->require_subcommand(1);
  auto opts = std::make_shared<SimOptions>();
  auto common = [opts](CLI::App* c, bool attach_opts) {
    c->add_option("--lab", opts->lab_dir, "lab directory (reads lab.json)");
    c->add_option("--auth", opts->auth, "RADIUS authentication server host:port");
    c->add_option("--acct", opts->acct, "RADIUS accounting server host:port");
    c->add_option("--secret", opts->secret, "RADIUS shared secret");
    c->add_option("--msisdn", opts->msisdn, "the handset's MSISDN")->required();
    c->add_option("--nas", opts->nas, "NAS-Identifier to send");
    c->add_option("--apn", opts->apn, "APN (Called-Station-Id)");
    c->add_option("--username", opts->username, "User-Name to send");
    c->add_option("--imsi", opts->imsi, "IMSI (3GPP-IMSI)");
    c->add_option("--state-dir", opts->state_dir, "where attached sessions are remembered");
    c->add_option("--timeout-ms", opts->timeout_ms, "per-attempt timeout");
    c->add_option("--network", opts->network,
                  "with --lab: attach at the home network (default) or roam into the visited network");
    if (attach_opts) {
      c->add_option("--password", opts->password, "PAP password");
      c->add_option("--ipv6-prefix", opts->ipv6_prefix,
                    "also report a delegated IPv6 prefix, e.g. 2001:db8:1::/64");
    }
  };
  auto run = [&exit_code](int (*f)(const SimOptions&), std::shared_ptr<SimOptions> o) {
    return [&exit_code, f, o] {
      try {
        exit_code = f(*o);
      } catch (const std::exception& e) {
        std::cerr << "sim: " << e.what() << "\n";
        exit_code = kExitFailure;
      }
    };
  };
  auto* a = sim->add_subcommand("attach", "Access-Request + Accounting-Start; prints the allocated IP last");
  common(a, true);
  a->callback(run(attach, opts));
  auto* i = sim->add_subcommand("interim", "Send an Interim-Update for an attached handset");
  common(i, false);
  i->callback(run(interim, opts));
  auto* d = sim->add_subcommand("detach", "Send the Accounting-Stop for an attached handset");
  common(d, false);
  d->callback(run(detach, opts));
  add_sim_mip(sim, exit_code);
  add_sim_device(sim, exit_code);
}

}  // namespace mobix::cli
