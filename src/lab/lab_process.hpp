#pragma once
// A `mobix serve` child of the lab (the visited network, a second node): started with the lab, ended
// with it (also when the lab is killed), ready once its admin listener accepts.
#include <sys/types.h>
#include <string>
#include <vector>

#include "core/net.hpp"

namespace mobix::lab {

/// Forks and execs this binary as `serve --config CONFIG`, output appended to LOG, and waits until
/// ADMIN accepts. Throws (naming `what` and the log) when it exits or does not come up.
pid_t spawn_serve(const std::string& config, const std::string& log, const Endpoint& admin,
                  const std::string& what);
/// SIGTERM, then waits for it.
void stop_serve(pid_t& pid);

/// Forks and execs `argv` (argv[0] a full path) with `env` ("NAME=value") added to the lab's
/// environment, output appended to LOG; the child ends with the lab, even after kill -9.
pid_t spawn_program(const std::vector<std::string>& argv, const std::string& log,
                    const std::vector<std::string>& env = {});

}  // namespace mobix::lab
