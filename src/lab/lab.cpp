#include "lab/lab.hpp"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "directory/directory.hpp"
#include "lab/lab_boxes.hpp"
#include "lab/lab_mail.hpp"
#include "lab/lab_nodes.hpp"
#include "lab/lab_relay.hpp"
#include "lab/lab_telephony.hpp"
#include "lab/lab_util.hpp"
#include "lab/lab_visited.hpp"
#include "node/config_sections.hpp"
#include "node/node.hpp"
#include "pki/pki.hpp"

namespace mobix {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string random_token(std::size_t n) {
  static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out(n, 'x');
  unsigned char buf[64];
  if (n > sizeof buf || RAND_bytes(buf, static_cast<int>(n)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  for (std::size_t i = 0; i < n; ++i) out[i] = alphabet[buf[i] % (sizeof alphabet - 1)];
  return out;
}

void write_private(const fs::path& p, const std::string& data) {
  auto tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    ::chmod(tmp.c_str(), 0600);
    out << data;
  }
  fs::rename(tmp, p);
}

const char* kLabConfig =
    R"(# Written by `mobix lab` on its first run; `mobix serve --config` runs the same node.
node: lab
log:
  level: info
store:
  path: mobix.db
admin:
  listen: 127.0.0.1:0
  no_token: true  # the lab, on loopback only; a real node sets token_file (docs/admin-api.md)
access:
  radius:
    auth_listen: 127.0.0.1:0
    acct_listen: 127.0.0.1:0
    require_message_authenticator: true
    interim_interval: 60
    missed_interims: 3
    clients:
      - name: lab-ggsn
        address: 127.0.0.0/16  # the GGSN side only: never the handset pools (127.1-127.5)
        secret_file: radius_secret
  # Seed 004: boxes log in as "serial@config.lab.mobix.test" to be configured (Phase II).
  provisioning_realm: config.lab.mobix.test
  pools:
    - name: internet
      range: 127.1.0.10-127.1.255.250
      apn: internet
    - name: default
      range: 127.2.0.10-127.2.255.250
    - name: box-config  # reaches the configuration service only (examples/nftables-config-pool.nft)
      range: 127.6.0.10-127.6.255.250
      realm: config.lab.mobix.test
    - name: boxes
      range: 127.7.0.10-127.7.255.250
      realm: cb.lab.mobix.test
mail:
  pop3_listen: 127.0.0.1:0
  smtp_listen: 127.0.0.1:0
  imap_listen: 127.0.0.1:0
  access_ranges: [127.1.0.0/16, 127.2.0.0/16]
# Seed 001: the public relay and the private gateway, woken by SMS through the lab's SMSC.
relay:
  public_listen: 127.0.0.1:0
  callback_listen: 127.0.0.1:0
  callback_address: 127.0.0.1
  tls_cert_file: pki/lab-server.crt
  tls_key_file: pki/lab-server.key
  signal_key: {id: 1, key_file: signal.key}
  smpp: {smsc: "127.0.0.1:SMSC_PORT", system_id: relay, password_file: smpp_relay_password}
  gateway_msisdn: "31699000000"
  hold_timeout: 10
gateway:
  smpp: {smsc: "127.0.0.1:SMSC_PORT", system_id: gateway, password_file: smpp_gateway_password}
  address_range: "31699000000"
  signal_keys: [{id: 1, key_file: signal.key}]
  relay_ca_file: pki/ca.crt
# Seed 002: the demo subscribers' home network. The lab's visited network (visited/mobix.yaml,
# its own process) reaches it over RadSec; both networks' DNS follow the sessions.
roaming:
  realms: [home.mobix.test]
  radsec_listen: 127.0.0.1:RADSEC_PORT
  tls_cert_file: pki/home-radsec.crt
  tls_key_file: pki/home-radsec.key
  ca_file: pki/ca.crt
  partners:
    - {name: visited, realm: visited.mobix.test, certificate_name: radsec.visited.mobix.test}
# Seed 004: the connectivity service system (configuration manager, wake-up, connectivity listener);
# the call-center console is at http://<admin>/console/.
css:
  ca_dir: pki
  cert: pki/css.crt
  key: pki/css.key
  config_realm: config.lab.mobix.test
  access_realm: cb.lab.mobix.test
  box_port: BOX_PORT
  listen: 127.0.0.1:0
  wakeup: {smsc: "127.0.0.1:SMSC_PORT", system_id: css, password_file: smpp_css_password}
dns:
  listen: 127.0.0.1:0
)";

struct Demo {
  const char* name;
  const char* msisdn;
  const char* imsi;
  const char* full_name;
};
const Demo kDemo[] = {
    {"alice", "31610000001", "204080000000001", "Alice \xc3\x85ngstr\xc3\xb6m"},
    {"bob", "31610000002", "204080000000002", "Bob Builder"},
    {"carol", "31610000003", "204080000000003",
     "Carol \xc3\x87"
     "elik"},
};

// What every handset ships with (seed 000): the same settings for everyone.
const char* kHandsetUser = "mobile";
const char* kHandsetPassword = "mobile";
const char* kHandsetSender = "user@handset.invalid";

}  // namespace

int run_lab(std::string dir, LabOptions options) {
  if (dir.empty()) {
    char tmpl[] = "/tmp/mobix-lab-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("cannot create a temp dir");
    dir = tmpl;
  }
  fs::create_directories(dir);
  dir = fs::canonical(dir).string();
  std::cout << "mobix lab in " << dir << std::endl;

  auto secret_path = fs::path(dir) / "radius_secret";
  if (!fs::exists(secret_path)) write_private(secret_path, random_token(24) + "\n");
  auto config_path = fs::path(dir) / "mobix.yaml";
  if (!fs::exists(config_path)) {
    std::string text = std::string(kLabConfig) + lab::kHomeZones;
    lab::replace_all(text, "SMSC_PORT", std::to_string(lab::free_port<boost::asio::ip::tcp>()));
    lab::replace_all(text, "RADSEC_PORT", std::to_string(lab::free_port<boost::asio::ip::tcp>()));
    lab::replace_all(text, "BOX_PORT", std::to_string(lab::free_port<boost::asio::ip::tcp>()));
    if (options.nodes == 2) prepare_lab_nodes(dir, text);
    prepare_lab_telephony(dir, text);  // after node 2's copy: one mobility manager, one realm
    write_private(config_path, text);
    write_private(fs::path(dir) / "smpp_relay_password", random_token(8) + "\n");
    write_private(fs::path(dir) / "smpp_gateway_password", random_token(8) + "\n");
    write_private(fs::path(dir) / "smpp_css_password", random_token(8) + "\n");
    write_private(fs::path(dir) / "smpp_boxes_password", random_token(8) + "\n");
    std::string key(64, '0');
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) throw std::runtime_error("RAND_bytes failed");
    for (int i = 0; i < 32; ++i) std::snprintf(&key[2 * i], 3, "%02x", raw[i]);
    write_private(fs::path(dir) / "signal.key", key + "\n");
  }

  auto pki_dir = (fs::path(dir) / "pki").string();
  if (!pki::CertificateAuthority::exists(pki_dir)) {
    auto ca = pki::CertificateAuthority::create(pki_dir, "mobix lab CA");
    pki::CertRequest req;
    req.common_name = "lab.mobix.test";
    req.dns_names = {"localhost", "lab.mobix.test"};
    req.ip_addresses = {"127.0.0.1"};
    ca.issue(req, pki_dir + "/lab-server");
  }
  if (!fs::exists(pki_dir + "/css.crt")) {
    // Seed 004: the CSS's own certificate from the root CA (OU css); boxes accept it by name.
    pki::Signer signer(pki_dir);
    auto keys = pki::generate_key_pair();
    auto cert =
        signer.sign(keys.public_pem, pki::Signer::Subject{"css.lab.mobix.test", "css", true, true, 397});
    write_private(fs::path(pki_dir) / "css.key", keys.private_pem);
    write_private(fs::path(pki_dir) / "css.crt", cert.pem);
    pki::CertificateAuthority::open(pki_dir).record(
        {{cert.serial, "css.lab.mobix.test", pki_dir + "/css.crt"}});
  }
  bool two_networks = prepare_lab_visited(dir);
  if (options.nodes == 2 && !is_lab_cluster(dir))
    throw std::runtime_error(dir + " was made as a one-node lab; --nodes 2 needs a new directory");
  // Issue 14: a two-node lab keeps its store in a PostgreSQL cluster of its own (stopped last).
  std::optional<LabCluster> cluster;
  struct StopCluster {
    std::optional<LabCluster>& c;
    ~StopCluster() {
      if (c) stop_lab_cluster(*c);
    }
  } stop_cluster{cluster};
  if (is_lab_cluster(dir)) cluster = start_lab_postgres(dir);

  // Seed 003: the realm's KDC runs before the node (the mobility manager bootstraps devices from it).
  auto telephony = start_lab_kdc(dir);
  struct StopKdc {
    std::optional<LabTelephony>& t;
    ~StopKdc() {
      if (t) stop_lab_kdc(*t);
    }
  } stop_kdc{telephony};
  Node node(load_config(config_path.string()));
  auto& dirx = node.directory();
  std::optional<LabRelay> lab_relay;
  if (dirx.list().empty()) {
    for (const auto& d : kDemo) {
      Subscriber s;
      s.msisdn = d.msisdn;
      s.imsi = d.imsi;
      s.username = d.name;
      s.password = d.name + std::string("-") + random_token(10);
      s.hostname = std::string(d.name) + ".home.mobix.test";
      s.attrs["mail.name"] = d.full_name;
      s.attrs["mail.password"] = random_token(16);
      dirx.add(s);
    }
    spdlog::info("lab: seeded {} demo subscribers", std::size(kDemo));
  }
  // The demo mail provider; the subscribers' mail accounts point at it (ports change per run).
  std::vector<LabMailUser> mail_users;
  auto subscribers = dirx.list();
  for (auto& s : subscribers)
    if (!s.username.empty() && s.attrs.count("mail.password"))
      mail_users.push_back({s.username, s.attrs["mail.password"]});
  auto lab_mail = start_lab_mail(dir, mail_users);
  if (lab_mail) {
    for (auto& s : subscribers) {
      if (!s.attrs.count("mail.password") || s.username.empty()) continue;
      s.attrs["mail.pop3"] = lab_mail->pop3.str();
      s.attrs["mail.imap"] = lab_mail->imap.str();
      s.attrs["mail.smtp"] = lab_mail->smtp.str();
      s.attrs["mail.user"] = s.username;
      s.attrs["mail.address"] = s.username + "@" + lab_mail->domain;
      dirx.update(s);
    }
  }
  struct StopMail {
    std::optional<LabMail>& m;
    ~StopMail() {
      if (m) stop_lab_mail(*m);
    }
  } stop_mail{lab_mail};
  std::string boxes_smsc_password;
  std::ifstream(fs::path(dir) / "smpp_boxes_password") >> boxes_smsc_password;
  if (node.config().relay)
    lab_relay = start_lab_relay(node.config(), dirx, {{kLabBoxesSmscAccount, boxes_smsc_password}});
  if (telephony) add_lab_devices(dir, node.store(), dirx, *telephony);
  node.start();
  if (telephony && node.listeners().count("mobility_manager.http"))
    switch_on_lab_devices(*telephony, node.listeners().at("mobility_manager.http").endpoint);
  if (cluster) start_lab_node2(dir, *cluster);  // the store is migrated now
  std::optional<LabVisited> visited;
  if (two_networks) visited = start_lab_visited(dir);
  struct StopVisited {
    std::optional<LabVisited>& v;
    ~StopVisited() {
      if (v) stop_lab_visited(*v);
    }
  } stop_visited{visited};

  std::string secret;
  std::ifstream(secret_path) >> secret;
  std::optional<LabBoxes> lab_boxes;
  if (options.boxes && node.config().css && lab_relay)
    lab_boxes = start_lab_boxes(
        dir, node.config(), node.store(), node.listeners().at("access.radius_auth").endpoint,
        node.listeners().at("access.radius_acct").endpoint, secret, lab_relay->smsc, boxes_smsc_password);
  json lab;
  lab["dir"] = dir;
  lab["config"] = config_path.string();
  lab["radius_secret"] = secret;
  lab["ca_cert"] = pki_dir + "/ca.crt";
  json eps = json::object();
  for (const auto& [name, info] : node.listeners())
    eps[name] = json{{"host", info.endpoint.host}, {"port", info.endpoint.port}, {"protocol", info.protocol}};
  lab["endpoints"] = eps;
  lab["apn"] = "internet";
  auto endpoint_json = [](const Endpoint& e, const char* protocol) {
    return json{{"host", e.host}, {"port", e.port}, {"protocol", protocol}};
  };
  if (node.listeners().count("dns"))
    lab["endpoints"]["dns.home"] = endpoint_json(node.listeners().at("dns").endpoint, "dns");
  if (visited) {
    // Seed 002: the visited network, where a terminal roams (`mobix sim attach --network visited`).
    lab["endpoints"]["dns.visited"] = endpoint_json(visited->dns, "dns");
    lab["endpoints"]["visited.radius_auth"] = endpoint_json(visited->auth, "radius/udp");
    lab["endpoints"]["visited.radius_acct"] = endpoint_json(visited->acct, "radius-acct/udp");
    lab["endpoints"]["visited.admin.http"] = endpoint_json(visited->admin, "http");
    lab["networks"] = json{{"home", json{{"realm", kLabHomeRealm}, {"dns", "dns.home"}}},
                           {"visited", json{{"realm", kLabVisitedRealm}, {"dns", "dns.visited"}}}};
  }
  if (cluster) {
    // Issue 14: both nodes serve the same sessions, pools and subscribers from the shared store.
    lab["store"] = json{{"backend", "postgresql"}, {"port", cluster->pg_port}, {"data", cluster->pg_data}};
    lab["endpoints"]["node2.admin.http"] = endpoint_json(cluster->node2_admin, "http");
    lab["endpoints"]["node2.access.radius_auth"] = endpoint_json(cluster->node2_auth, "radius/udp");
    lab["endpoints"]["node2.access.radius_acct"] = endpoint_json(cluster->node2_acct, "radius-acct/udp");
    lab["endpoints"]["node2.mail.pop3"] = endpoint_json(cluster->node2_pop3, "pop3");
    lab["endpoints"]["node2.mail.imap"] = endpoint_json(cluster->node2_imap, "imap");
    lab["endpoints"]["node2.mail.smtp"] = endpoint_json(cluster->node2_smtp, "smtp");
    lab["endpoints"]["node2.dns"] = endpoint_json(cluster->node2_dns, "dns");
    lab["nodes"] = json::array(
        {json{{"name", node.config().node_name}, {"admin", "admin.http"}, {"config", config_path.string()}},
         json{{"name", "lab-2"}, {"admin", "node2.admin.http"}, {"config", cluster->node2_config}}});
  }
  json subs = json::array();
  for (const auto& s : dirx.list())
    subs.push_back(json{{"msisdn", s.msisdn},
                        {"imsi", s.imsi},
                        {"username", s.username},
                        {"password", s.password},
                        {"hostname", s.hostname},
                        {"email", s.attrs.count("mail.address") ? s.attrs.at("mail.address") : ""}});
  lab["subscribers"] = subs;
  if (lab_relay) {
    lab["endpoints"]["lab.smsc"] =
        json{{"host", lab_relay->smsc.host}, {"port", lab_relay->smsc.port}, {"protocol", "smpp"}};
    auto pub = node.listeners().at("relay.public").endpoint;
    lab["mobile_servers"] = json::array({json{{"hostname", lab_relay->hostname},
                                              {"port", pub.port},
                                              {"relay", pub.str()},
                                              {"msisdn", lab_relay->msisdn},
                                              {"device", lab_relay->mobile_server.str()}}});
  }
  if (lab_boxes) {
    // Seed 004: the demo boxes (their live state: the console or `mobix admin cb list`).
    json boxes = json::array();
    for (const auto& b : lab_boxes->boxes)
      boxes.push_back(json{{"serial", b.serial},
                           {"cb_id", b.cb_id},
                           {"cb_name", b.cb_name},
                           {"state_dir", b.state_dir},
                           {"line", b.line},
                           {"state", "powered up: configuring (Phases II and III)"}});
    lab["boxes"] = boxes;
    lab["console"] = "http://" + node.listeners().at("admin.http").endpoint.str() + "/console/";
    lab["boxes_smsc_account"] = json{{"system_id", kLabBoxesSmscAccount}, {"password", boxes_smsc_password}};
  }
  if (telephony) {
    // Seed 003: the realm, its KDC and the demo phones (switched on at start; their state:
    // `mobix sim device status --lab DIR --id CODE`).
    json phones = json::array();
    for (const auto& d : telephony->devices)
      phones.push_back(json{{"identity_code", d.identity_code},
                            {"msisdn", d.msisdn},
                            {"home_address", d.home_address},
                            {"care_of", "192.0.2.10"}});
    lab["telephony"] = json{{"realm", kLabRealm},
                            {"krb5_conf", telephony->krb5_conf},
                            {"kdc", endpoint_json(telephony->kdc, "kerberos")},
                            {"home_agent", "home_agent.mip"},
                            {"initiating_db", "initiating_db.https"},
                            {"mobility_manager", "mobility_manager.http"},
                            {"billing", "billing.https"},
                            {"sip", "mobility_manager.sip"},
                            {"devices", phones}};
  }
  lab["handset_defaults"] =
      json{{"user", kHandsetUser}, {"password", kHandsetPassword}, {"sender", kHandsetSender}};
  if (lab_mail) {
    lab["endpoints"]["provider.pop3"] =
        json{{"host", lab_mail->pop3.host}, {"port", lab_mail->pop3.port}, {"protocol", "pop3"}};
    lab["endpoints"]["provider.imap"] =
        json{{"host", lab_mail->imap.host}, {"port", lab_mail->imap.port}, {"protocol", "imap"}};
    lab["endpoints"]["provider.smtp"] =
        json{{"host", lab_mail->smtp.host}, {"port", lab_mail->smtp.port}, {"protocol", "smtp"}};
  }
  // Written last, atomically: its presence means every listener is up.
  write_private(fs::path(dir) / "lab.json", lab.dump(2) + "\n");

  auto admin = node.listeners().at("admin.http").endpoint;
  std::cout << "\nThe lab is up. Try:\n"
            << "  mobix sim attach --lab " << dir << " --msisdn " << kDemo[0].msisdn
            << "   # prints the handset's IP\n"
            << "  mobix admin --lab " << dir << " sessions\n"
            << "  curl -s http://" << admin.str() << "/api/v1/sessions\n"
            << "  curl -s http://" << admin.str() << "/metrics | grep mobix_\n"
            << "  mobix sim detach --lab " << dir << " --msisdn " << kDemo[0].msisdn << "\n";
  if (visited)
    std::cout << "  mobix sim attach --lab " << dir << " --network visited --msisdn " << kDemo[1].msisdn
              << "   # bob roams into the visited network\n"
              << "  dig @127.0.0.1 -p " << node.listeners().at("dns").endpoint.port << " bob."
              << kLabHomeRealm << "   # home DNS: bob's visited IP; dig -x IP -p " << visited->dns.port
              << " at the visited DNS\n";
  if (lab_relay) {
    auto pub = node.listeners().at("relay.public").endpoint;
    std::cout << "  mobix sim attach --lab " << dir << " --msisdn " << kLabCamMsisdn
              << "   # the demo mobile server comes online\n"
              << "  curl -H 'Host: " << kLabCamHostname << "' http://" << pub.str()
              << "/   # through the relay\n";
  }
  if (telephony && !telephony->devices.empty())
    std::cout << "  mobix sim device status --lab " << dir << " --id " << telephony->devices[0].identity_code
              << "   # alice's phone, represented with Kerberos and Mobile IP\n";
  if (lab_boxes)
    std::cout << "  open http://" << admin.str()
              << "/console/   # the call center: two demo boxes configure\n"
              << "  mobix admin --lab " << dir << " cb list\n";
  std::cout << "Everything is described in " << dir
            << "/lab.json. Ctrl-C stops the lab; run it again with --dir " << dir << " to resume.\n"
            << std::endl;
  node.run();
  return 0;
}

}  // namespace mobix
