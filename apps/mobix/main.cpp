// mobix: one binary, one subcommand per job (DESIGN.md "Process model").
#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "lab/lab.hpp"
#include "node/config_sections.hpp"
#include "node/role_table.hpp"

bool mobix::cli::g_log_set_on_cli = false;

int main(int argc, char** argv) {
  // A peer that closed its socket must be an error return, not a dead process: Asio uses
  // MSG_NOSIGNAL, but libldap (GnuTLS) and other libraries write with plain write(2).
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"mobix: operator-side zero-configuration services for mobile devices"};
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the subcommand too
  app.set_version_flag("--version", "mobix " MOBIX_VERSION);
  std::string log_format = "text", log_level = "info";
  app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  int exit_code = 0;

  auto* check =
      app.add_subcommand("check-config", "Validate a config file; exit 2 naming file, line and key");
  std::string check_file;
  check->add_option("file", check_file, "YAML config file")->required();
  check->callback([&] {
    try {
      auto cfg = mobix::load_config(check_file);
      std::string roles;  // the roles `serve` would start, in its order
      for (const auto& entry : mobix::role_table()) {
        if (!entry.wanted(cfg)) continue;
        roles += (roles.empty() ? "" : ", ") + std::string(entry.name);
        if (entry.name == std::string_view("access") && cfg.roaming) roles += " (with roaming)";
      }
      std::cout << check_file << ": OK (roles: " << roles << "; directory: "
                << (cfg.directory.backend == mobix::DirectoryBackend::ldap ? "ldap" : "store") << ")\n";
    } catch (const mobix::ConfigError& e) {
      std::cerr << "config error: " << e.what() << "\n";
      exit_code = mobix::cli::kExitConfig;
    }
  });

  auto* config = app.add_subcommand("config", "About the config file");
  config->require_subcommand(1);
  config->add_subcommand("reference", "Print the configuration reference (docs/config.md) from the tables")
      ->callback([] { mobix::write_config_reference(std::cout); });

  auto* lab = app.add_subcommand("lab", "Run every role on loopback with the embedded store and demo data");
  std::string lab_dir;
  lab->add_option("--dir", lab_dir, "state directory (default: a new temp dir); reuse it to resume");
  mobix::LabOptions lab_options;
  lab->add_flag("--no-boxes{false}", lab_options.boxes,
                "do not power up the demo connectivity boxes (a quiet lab: RADIUS moves only with you)");
  lab->add_option("--nodes", lab_options.nodes,
                  "2: the store in a PostgreSQL cluster in the lab directory and a second node on 127.0.0.3 "
                  "(chosen on a directory's first run)")
      ->check(CLI::Range(1, 2));
  lab->callback([&] {
    try {
      exit_code = mobix::run_lab(lab_dir, lab_options);
    } catch (const mobix::ConfigError& e) {
      spdlog::critical("config error: {}", e.what());
      exit_code = mobix::cli::kExitConfig;
    } catch (const std::exception& e) {
      spdlog::critical("lab failed: {}", e.what());
      exit_code = mobix::cli::kExitFailure;
    }
  });

  mobix::cli::add_serve(app, exit_code);
  mobix::cli::add_sim(app, exit_code);
  mobix::cli::add_admin(app, exit_code);
  mobix::cli::add_pki(app, exit_code);
  mobix::cli::add_smpp(app, exit_code);
  mobix::cli::add_signal(app, exit_code);
  mobix::cli::add_store(app, exit_code);
  mobix::cli::add_factory(app, exit_code);
  mobix::cli::add_cb(app, exit_code);

  app.parse_complete_callback([&] {
    mobix::cli::g_log_set_on_cli = app.count("--log-format") + app.count("--log-level") > 0;
    mobix::init_logging(mobix::parse_log_format(log_format), log_level);
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : mobix::cli::kExitConfig;
  }
  return exit_code;
}
