#include "lab/lab_visited.hpp"

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "lab/lab_process.hpp"
#include "lab/lab_util.hpp"
#include "node/config_sections.hpp"
#include "pki/pki.hpp"

namespace mobix {

namespace fs = std::filesystem;
using lab::free_port;
using lab::replace_all;

namespace {

// The visited network: its own subscribers' realm, a pool in 127.5/16 and the reverse zone
// for it, and the lab's home network as roaming partner over RadSec.
const char* kVisitedConfig =
    R"(# Written by `mobix lab`: the lab's visited network (seed 002), run as its own process.
node: lab-visited
store: {path: mobix.db}
admin: {listen: "127.0.0.1:ADMIN_PORT", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.1:AUTH_PORT
    acct_listen: 127.0.0.1:ACCT_PORT
    interim_interval: 60
    clients: [{name: lab-visited-ggsn, address: 127.0.0.0/16, secret_file: ../radius_secret}]  # not the handset pools
  pools: [{name: visitors, range: 127.5.0.10-127.5.255.250}]
roaming:
  realms: [visited.mobix.test]
  tls_cert_file: ../pki/visited-radsec.crt
  tls_key_file: ../pki/visited-radsec.key
  ca_file: ../pki/ca.crt
  partners:
    - {name: home, realm: home.mobix.test, certificate_name: radsec.home.mobix.test, server: "127.0.0.1:RADSEC_PORT"}
dns:
  listen: 127.0.0.1:DNS_PORT
  zones:
    - {name: visited.mobix.test, records: ["ns1 A 127.0.0.1"]}
    - {name: 5.127.in-addr.arpa}
  roamers_zone: visited.mobix.test   # bob.home.mobix.test.visited.mobix.test while bob visits
)";

}  // namespace

bool prepare_lab_visited(const std::string& dir) {
  auto pki_dir = dir + "/pki";
  auto ca = pki::CertificateAuthority::open(pki_dir);
  for (const auto* name : {"home", "visited"}) {
    auto prefix = pki_dir + "/" + name + "-radsec";
    if (fs::exists(prefix + ".crt")) continue;
    pki::CertRequest req;
    req.common_name = std::string("radsec.") + name + ".mobix.test";
    req.dns_names = {req.common_name};
    req.server = req.client = true;  // RadSec: each side is a TLS client or server
    ca.issue(req, prefix);
  }
  auto home = load_config(dir + "/mobix.yaml");
  if (!home.roaming || !home.roaming->radsec_listen) return false;  // a lab from before seed 002
  auto vdir = fs::path(dir) / "visited";
  fs::create_directories(vdir);
  auto config = vdir / "mobix.yaml";
  if (fs::exists(config)) return true;
  std::string text = kVisitedConfig;
  replace_all(text, "ADMIN_PORT", std::to_string(free_port<boost::asio::ip::tcp>()));
  replace_all(text, "AUTH_PORT", std::to_string(free_port<boost::asio::ip::udp>()));
  replace_all(text, "ACCT_PORT", std::to_string(free_port<boost::asio::ip::udp>()));
  replace_all(text, "DNS_PORT", std::to_string(lab::free_dns_port()));
  replace_all(text, "RADSEC_PORT", std::to_string(home.roaming->radsec_listen->port));
  std::ofstream(config) << text;
  return true;
}

LabVisited start_lab_visited(const std::string& dir) {
  LabVisited v;
  v.config = dir + "/visited/mobix.yaml";
  auto cfg = load_config(v.config);
  v.auth = cfg.access->auth_listen;
  v.acct = cfg.access->acct_listen;
  v.admin = cfg.admin.listen;
  v.dns = *cfg.dns->listen;
  auto log = dir + "/visited/mobix.log";
  v.pid = lab::spawn_serve(v.config, log, v.admin, "the visited network");
  spdlog::info("lab: visited network (pid {}) up; RADIUS {}, DNS {}; log {}", v.pid, v.auth.str(),
               v.dns.str(), log);
  return v;
}

void stop_lab_visited(LabVisited& v) {
  lab::stop_serve(v.pid);
}

}  // namespace mobix
