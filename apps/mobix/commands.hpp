#pragma once
// Subcommand registration for the `mobix` binary; each lives in its own cmd_*.cpp.
#include <functional>
#include <iostream>

#include <CLI/CLI.hpp>

namespace mobix::cli {

/// Exit codes: 0 success, 1 runtime failure, 2 bad config or usage.
inline constexpr int kExitFailure = 1;
inline constexpr int kExitConfig = 2;

/// True when --log-format/--log-level were given on the command line (they win over the config).
extern bool g_log_set_on_cli;

/// Wraps a subcommand body: an exception is printed as "<what>: <message>" and exits 1.
inline std::function<void()> guarded(const char* what, int& exit_code, std::function<void()> body) {
  return [what, &exit_code, body = std::move(body)] {
    try {
      body();
    } catch (const std::exception& e) {
      std::cerr << what << ": " << e.what() << "\n";
      exit_code = kExitFailure;
    }
  };
}

void add_serve(CLI::App& app, int& exit_code);
void add_sim(CLI::App& app, int& exit_code);
/// `mobix sim mip` (seed 003): under the `sim` subcommand.
void add_sim_mip(CLI::App* sim, int& exit_code);
/// `mobix sim device` (seed 003): under the `sim` subcommand.
void add_sim_device(CLI::App* sim, int& exit_code);
void add_admin(CLI::App& app, int& exit_code);
void add_pki(CLI::App& app, int& exit_code);
void add_smpp(CLI::App& app, int& exit_code);
void add_signal(CLI::App& app, int& exit_code);
void add_store(CLI::App& app, int& exit_code);
void add_factory(CLI::App& app, int& exit_code);
void add_cb(CLI::App& app, int& exit_code);

}  // namespace mobix::cli
