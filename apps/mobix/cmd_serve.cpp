#include <iostream>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "node/config_sections.hpp"
#include "node/node.hpp"
#include "store/store.hpp"

namespace mobix::cli {

void add_serve(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Run the roles named in a config file until SIGTERM/SIGINT");
  auto file = std::make_shared<std::string>();
  cmd->add_option("--config,-c", *file, "YAML config file")->required();
  cmd->callback([file, &exit_code] {
    Config cfg;
    try {
      cfg = load_config(*file);
    } catch (const ConfigError& e) {
      // Config errors exit 2 before anything listens.
      std::cerr << "config error: " << e.what() << "\n";
      exit_code = kExitConfig;
      return;
    }
    if (!g_log_set_on_cli) init_logging(cfg.log.format, cfg.log.level);
    spdlog::debug("config {} loaded: node {}, store {}, roles: admin{}", cfg.source, cfg.node_name,
                  cfg.store.path, cfg.access ? ", access" : "");
    try {
      Node node(std::move(cfg));
      node.start();
      node.run();
    } catch (const std::exception& e) {
      spdlog::critical("mobix serve failed: {}", e.what());
      exit_code = kExitFailure;
    }
  });
}

}  // namespace mobix::cli
