#include "lab/lab_nodes.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "core/config.hpp"
#include "lab/lab_process.hpp"
#include "lab/lab_util.hpp"
#include "node/config_sections.hpp"

namespace mobix {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPgBin = "/usr/lib/postgresql/15/bin";

/// The second node: the same store, RADIUS clients, pools and zones as the lab's node.
const char* kNode2Config = R"(# Written by `mobix lab --nodes 2` on its first run: the lab's second node.
node: lab-2
store: {backend: postgresql, dsn_file: ../store.dsn, job_lease: 5}
admin: {listen: "127.0.0.3:ADMIN_PORT", no_token: true}
access:
  radius:
    auth_listen: 127.0.0.3:AUTH_PORT
    acct_listen: 127.0.0.3:ACCT_PORT
    require_message_authenticator: true
    interim_interval: 60
    missed_interims: 3
    clients: [{name: lab-ggsn, address: 127.0.0.0/16, secret_file: ../radius_secret}]
  pools:
    - {name: internet, range: 127.1.0.10-127.1.255.250, apn: internet}
    - {name: default, range: 127.2.0.10-127.2.255.250}
mail:
  pop3_listen: 127.0.0.3:POP3_PORT
  smtp_listen: 127.0.0.3:SMTP_PORT
  imap_listen: 127.0.0.3:IMAP_PORT
  access_ranges: [127.1.0.0/16, 127.2.0.0/16]
dns:
  listen: 127.0.0.3:DNS_PORT
)";

/// Runs a PostgreSQL tool; as the `postgres` user when the lab runs as root (PostgreSQL refuses root).
void pg_tool(const std::string& args, const std::string& what) {
  std::string cmd =
      (::geteuid() == 0 ? std::string("runuser -u postgres -- ") : std::string()) + kPgBin + "/" + args;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("lab: " + what + " failed: " + cmd);
}

std::string shell_quoted(const std::string& s) {
  return "'" + s + "'";  // lab paths: no quotes in them (mkdtemp or the user's --dir)
}

}  // namespace

bool is_lab_cluster(const std::string& dir) {
  return fs::exists(fs::path(dir) / "node2" / "mobix.yaml");
}

void prepare_lab_nodes(const std::string& dir, std::string& cfg) {
  if (!fs::exists(std::string(kPgBin) + "/initdb"))
    throw std::runtime_error("--nodes 2 needs PostgreSQL 15 (scripts/install-deps.sh installs it)");
  lab::replace_all(cfg, "store:\n  path: mobix.db",
                   "store:\n  backend: postgresql\n  dsn_file: store.dsn\n  job_lease: 5");
  for (const char* key : {"auth_listen", "acct_listen", "pop3_listen", "smtp_listen", "imap_listen"})
    lab::replace_all(cfg, std::string(key) + ": 127.0.0.1:0", std::string(key) + ": 127.0.0.2:0");
  lab::replace_all(cfg, "admin:\n  listen: 127.0.0.1:0", "admin:\n  listen: 127.0.0.2:0");
  lab::replace_all(cfg, "dns:\n  listen: 127.0.0.1:0", "dns:\n  listen: 127.0.0.2:0");
  auto port = lab::free_port<boost::asio::ip::tcp>();
  std::ofstream(fs::path(dir) / "store.dsn")
      << "host=127.0.0.1 port=" << port << " user=postgres dbname=mobix\n";
  fs::create_directories(fs::path(dir) / "node2");
  std::string node2 = std::string(kNode2Config) + lab::kHomeZones;
  for (const char* p : {"ADMIN_PORT", "POP3_PORT", "SMTP_PORT", "IMAP_PORT"})
    lab::replace_all(node2, p, std::to_string(lab::free_port<boost::asio::ip::tcp>()));
  for (const char* p : {"AUTH_PORT", "ACCT_PORT"})
    lab::replace_all(node2, p, std::to_string(lab::free_port<boost::asio::ip::udp>()));
  lab::replace_all(node2, "DNS_PORT", std::to_string(lab::free_dns_port()));
  std::ofstream(fs::path(dir) / "node2" / "mobix.yaml") << node2;
}

LabCluster start_lab_postgres(const std::string& dir) {
  LabCluster c;
  auto pg = fs::path(dir) / "pg";
  c.pg_data = (pg / "data").string();
  std::string dsn;
  std::getline(std::ifstream(fs::path(dir) / "store.dsn"), dsn);
  auto at = dsn.find("port=");
  c.pg_port = static_cast<std::uint16_t>(std::stoi(dsn.substr(at + 5)));
  // PostgreSQL runs as `postgres` under root: it must reach the lab directory and own its own.
  fs::permissions(dir, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  if (::geteuid() == 0 && std::system(("runuser -u postgres -- test -x " + shell_quoted(dir)).c_str()) != 0)
    throw std::runtime_error(
        "lab: the postgres user cannot reach " + dir +
        " (PostgreSQL refuses to run as root): let others traverse its parents (chmod o+x)");
  if (!fs::exists(c.pg_data)) {
    fs::create_directories(pg);
    if (::geteuid() == 0 &&
        std::system(("chown postgres:postgres " + shell_quoted(pg.string())).c_str()) != 0)
      throw std::runtime_error("lab: chown of " + pg.string() + " failed");
    pg_tool("initdb -D " + shell_quoted(c.pg_data) + " -U postgres -A trust -E UTF8 --locale=C.UTF-8 >" +
                shell_quoted((pg / "initdb.log").string()) + " 2>&1",
            "initdb");
  }
  pg_tool("pg_ctl -D " + shell_quoted(c.pg_data) + " -l " + shell_quoted((pg / "postgresql.log").string()) +
              " -w -o " +
              shell_quoted("-c listen_addresses=127.0.0.1 -p " + std::to_string(c.pg_port) + " -k " +
                           pg.string()) +
              " start >/dev/null",
          "starting PostgreSQL");
  // The database, once (an error on later runs: it exists).
  std::system(("psql -h 127.0.0.1 -p " + std::to_string(c.pg_port) +
               " -U postgres -qc 'CREATE DATABASE mobix' >/dev/null 2>&1")
                  .c_str());
  spdlog::info("lab: PostgreSQL on 127.0.0.1:{} (data {})", c.pg_port, c.pg_data);
  return c;
}

void start_lab_node2(const std::string& dir, LabCluster& c) {
  c.node2_config = (fs::path(dir) / "node2" / "mobix.yaml").string();
  auto cfg = load_config(c.node2_config);
  c.node2_admin = cfg.admin.listen;
  c.node2_auth = cfg.access->auth_listen;
  c.node2_acct = cfg.access->acct_listen;
  c.node2_pop3 = *cfg.mail->pop3_listen;
  c.node2_imap = *cfg.mail->imap_listen;
  c.node2_smtp = *cfg.mail->smtp_listen;
  c.node2_dns = *cfg.dns->listen;
  auto log = (fs::path(dir) / "node2" / "mobix.log").string();
  c.node2 = lab::spawn_serve(c.node2_config, log, c.node2_admin, "the lab's second node");
  spdlog::info("lab: second node (pid {}) up on 127.0.0.3; admin {}; log {}", c.node2, c.node2_admin.str(),
               log);
}

void stop_lab_cluster(LabCluster& c) {
  lab::stop_serve(c.node2);
  if (c.pg_data.empty()) return;
  try {
    pg_tool("pg_ctl -D " + shell_quoted(c.pg_data) + " -m fast stop >/dev/null", "stopping PostgreSQL");
  } catch (const std::exception& e) {
    spdlog::warn("{}", e.what());
  }
  c.pg_data.clear();
}

}  // namespace mobix
