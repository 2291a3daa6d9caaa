#include "lab/lab_telephony.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include "admin/http_client.hpp"
#include "directory/directory.hpp"
#include "lab/lab_process.hpp"
#include "lab/lab_util.hpp"
#include "store/store.hpp"

namespace mobix {

namespace fs = std::filesystem;

namespace {

/// One demo phone per demo subscriber (by MSISDN), with its identity code and home address.
const LabDevice kPhones[] = {
    {"IPUI-A11CE001", "31610000001", "10.64.0.1"},
    {"IPUI-B0B00002", "31610000002", "10.64.0.2"},
};

const char* kTelephonyConfig =
    R"(# Seed 003: secure mobile telephony (docs/telephony.md). The realm and its KDC live in krb5/.
home_agent: {listen: "127.0.0.1:HA_PORT", address: 127.0.0.1}
kerberos: {realm: REALM, config: krb5/krb5.conf, rcache_dir: krb5}
initiating_db:
  listen: 127.0.0.1:IDB_PORT
  cert: pki/lab-server.crt
  key: pki/lab-server.key
  keytab: krb5/http.keytab
  home_agent: "127.0.0.1:HA_PORT"
billing: {listen: "127.0.0.1:BILL_PORT", cert: pki/lab-server.crt, key: pki/lab-server.key, keytab: krb5/http.keytab}
mobility_manager:
  listen: 127.0.0.1:0
  billing: "127.0.0.1:BILL_PORT"
  billing_host: localhost
  sip_listen: "127.0.0.1:SIP_PORT"   # secure calls: `mobix sim device dial`
  base_stations: [127.0.0.1]
  keytab: krb5/mm.keytab
  initiating_db: 127.0.0.1:IDB_PORT
  initiating_db_host: localhost
  ca: pki/ca.crt
  device_timeout: 86400   # the lab's phones stay on; `mobix sim device off` switches one off
)";

std::string env_prefix(const fs::path& k) {
  return "KRB5_CONFIG=" + (k / "krb5.conf").string() + " KRB5_KDC_PROFILE=" + (k / "kdc.conf").string() + " ";
}

void run(const std::string& command, const fs::path& log) {
  if (std::system((command + " >>" + log.string() + " 2>&1").c_str()) != 0)
    throw std::runtime_error("lab: `" + command + "` failed; see " + log.string());
}

std::uint16_t kdc_port(const fs::path& k) {
  std::ifstream in(k / "kdc.port");
  unsigned p = 0;
  in >> p;
  return static_cast<std::uint16_t>(p);
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  RAND_bytes(raw.data(), static_cast<int>(raw.size()));
  std::string out;
  for (auto b : raw) out += "0123456789abcdef"[b >> 4], out += "0123456789abcdef"[b & 15];
  return out;
}

}  // namespace

bool prepare_lab_telephony(const std::string& dir, std::string& config_text) {
  if (!fs::exists("/usr/sbin/krb5kdc") || !fs::exists("/usr/sbin/kdb5_util") ||
      !fs::exists("/usr/sbin/kadmin.local")) {
    spdlog::warn("lab: MIT Kerberos (krb5-kdc, krb5-admin-server) is not installed: no seed 003 telephony");
    return false;
  }
  auto k = fs::path(dir) / "krb5";
  fs::create_directories(k);
  auto port = lab::free_port<boost::asio::ip::tcp>();
  std::ofstream(k / "kdc.port") << port << "\n";
  std::ofstream(k / "krb5.conf")
      << "[libdefaults]\n    default_realm = " << kLabRealm
      << "\n    dns_lookup_kdc = false\n    dns_lookup_realm = false\n    rdns = false\n"
         "    dns_canonicalize_hostname = false\n    ignore_acceptor_hostname = true\n"
         "    default_ccache_name = FILE:"
      << (k / "ccache").string() << "\n[realms]\n    " << kLabRealm
      << " = {\n        kdc = 127.0.0.1:" << port << "\n    }\n[domain_realm]\n    localhost = " << kLabRealm
      << "\n";
  std::ofstream(k / "kdc.conf") << "[kdcdefaults]\n    kdc_listen = 127.0.0.1:" << port
                                << "\n    kdc_tcp_listen = 127.0.0.1:" << port << "\n[realms]\n    "
                                << kLabRealm << " = {\n        database_name = " << (k / "principal").string()
                                << "\n        key_stash_file = " << (k / "stash").string()
                                << "\n        max_life = 10h\n"
                                   "        supported_enctypes = aes256-cts-hmac-sha1-96:normal\n    }\n"
                                   "[logging]\n    kdc = FILE:"
                                << (k / "kdc.log").string() << "\n";
  auto env = env_prefix(k);
  auto log = k / "setup.log";
  run(env + "kdb5_util create -s -r " + kLabRealm + " -P " + random_hex(16), log);
  run(env + "kadmin.local -q 'addprinc -randkey HTTP/localhost'", log);
  run(env + "kadmin.local -q 'ktadd -k " + (k / "http.keytab").string() + " HTTP/localhost'", log);
  for (const auto& p : kPhones) {
    run(env + "kadmin.local -q 'addprinc -randkey " + p.identity_code + "'", log);
    run(env + "kadmin.local -q 'ktadd -k " + (k / "mm.keytab").string() + " " + p.identity_code + "'", log);
  }
  std::string text = kTelephonyConfig;
  auto ha = std::to_string(lab::free_port<boost::asio::ip::udp>());
  lab::replace_all(text, "HA_PORT", ha);
  lab::replace_all(text, "IDB_PORT", std::to_string(lab::free_port<boost::asio::ip::tcp>()));
  lab::replace_all(text, "BILL_PORT", std::to_string(lab::free_port<boost::asio::ip::tcp>()));
  lab::replace_all(text, "SIP_PORT", std::to_string(lab::free_dns_port()));
  lab::replace_all(text, "REALM", kLabRealm);
  config_text += text;
  spdlog::info("lab: Kerberos realm {} created in {}", kLabRealm, k.string());
  return true;
}

std::optional<LabTelephony> start_lab_kdc(const std::string& dir) {
  auto k = fs::path(dir) / "krb5";
  if (!fs::exists(k / "principal")) return std::nullopt;
  LabTelephony t;
  t.krb5_conf = (k / "krb5.conf").string();
  t.kdc = Endpoint{"127.0.0.1", kdc_port(k)};
  t.kdc_pid = lab::spawn_program(
      {"/usr/sbin/krb5kdc", "-n", "-P", (k / "kdc.pid").string()}, (k / "kdc.out").string(),
      {"KRB5_CONFIG=" + t.krb5_conf, "KRB5_KDC_PROFILE=" + (k / "kdc.conf").string()});
  boost::asio::io_context io;
  for (int i = 0; i < 200; ++i) {  // its TCP listener accepts once it serves
    boost::asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({boost::asio::ip::make_address(t.kdc.host), t.kdc.port}, ec);
    if (!ec) return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  stop_lab_kdc(t);
  throw std::runtime_error("lab: the KDC did not start; see " + (k / "kdc.out").string());
}

void add_lab_devices(const std::string& dir, Store& store, Directory& directory, LabTelephony& t) {
  (void)dir;
  for (const auto& p : kPhones) {
    auto owner = directory.find(p.msisdn);
    if (!owner) continue;
    if (!store.find_device(DeviceKey::identity_code, p.identity_code))
      store.add_device(Device{p.identity_code, owner->id, p.home_address, 300, random_hex(16),
                              static_cast<std::int64_t>(std::time(nullptr))});
    t.devices.push_back(p);
  }
}

void switch_on_lab_devices(const LabTelephony& t, const Endpoint& mobility_manager) {
  std::thread([devices = t.devices, mobility_manager] {
    for (const auto& d : devices) {
      for (int i = 0; i < 100; ++i) {  // until the node serves
        try {
          auto r = http_call(mobility_manager, "POST", "/v1/devices/" + d.identity_code + "/on",
                             "{\"care_of\":\"192.0.2.10\"}");
          if (r.status == 202) break;
        } catch (const std::exception&) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }).detach();
}

void stop_lab_kdc(LabTelephony& t) {
  if (t.kdc_pid <= 0) return;
  ::kill(t.kdc_pid, SIGTERM);
  int status = 0;
  ::waitpid(t.kdc_pid, &status, 0);
  t.kdc_pid = -1;
}

}  // namespace mobix
