// `mobix store migrate|status --config FILE`: the store's schema, by hand (issue 14 item 1). With
// store.migrate: manual, nodes refuse to start on an older schema until this ran once.
#include <iostream>

#include "commands.hpp"
#include "core/config.hpp"
#include "node/config_sections.hpp"
#include "store/store.hpp"

namespace mobix::cli {

void add_store(CLI::App& app, int& exit_code) {
  auto* store = app.add_subcommand("store", "The store's schema (migrations)");
  store->require_subcommand(1);
  static std::string config_file;
  store->add_option("--config", config_file, "YAML config file naming the store")->required();
  auto open = [](bool migrate) {
    auto cfg = load_config(config_file);
    auto s = Store::open(cfg.store, migrate);
    std::cout << "store (" << (cfg.store.backend == StoreBackend::postgresql ? "postgresql" : "sqlite")
              << "): schema version " << s->schema_version() << " (this mobix writes "
              << Store::current_schema_version() << ")\n";
  };
  store->add_subcommand("migrate", "Bring the schema up to date (safe while other nodes run: one at a time)")
      ->callback(guarded("store migrate", exit_code, [open] { open(true); }));
  store->add_subcommand("status", "Print the schema version; fails when it is not this mobix's")
      ->callback(guarded("store status", exit_code, [open] { open(false); }));
}

}  // namespace mobix::cli
