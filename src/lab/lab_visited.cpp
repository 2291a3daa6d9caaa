#include "lab/lab_visited.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "core/config.hpp"
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
  char self[4096];
  auto n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) throw std::runtime_error("cannot find the mobix binary");
  self[n] = 0;
  v.pid = ::fork();
  if (v.pid < 0) throw std::runtime_error("fork failed");
  if (v.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // the visited network ends with the lab, even on kill -9
    auto* out = std::fopen(log.c_str(), "a");
    if (out) {
      ::dup2(fileno(out), 1);
      ::dup2(fileno(out), 2);
    }
    ::execl(self, self, "serve", "--config", v.config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Ready when the admin listener accepts (it starts after every other listener).
  boost::asio::io_context io;
  for (int i = 0; i < 200; ++i) {
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address(v.admin.host), v.admin.port}, ec);
    if (!ec) {
      spdlog::info("lab: visited network (pid {}) up; RADIUS {}, DNS {}; log {}", v.pid, v.auth.str(),
                   v.dns.str(), log);
      return v;
    }
    int status = 0;
    if (::waitpid(v.pid, &status, WNOHANG) == v.pid)
      throw std::runtime_error("the visited network exited; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ::kill(v.pid, SIGKILL);
  throw std::runtime_error("the visited network did not start; see " + log);
}

void stop_lab_visited(LabVisited& v) {
  if (v.pid <= 0) return;
  ::kill(v.pid, SIGTERM);
  int status = 0;
  ::waitpid(v.pid, &status, 0);
  v.pid = -1;
}

}  // namespace mobix
