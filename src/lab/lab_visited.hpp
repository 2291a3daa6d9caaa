#pragma once
// The lab's second network for seed 002: a visited network run as its own `mobix serve`
// process (its own store, pool, DNS zones and RadSec link to the lab's home network), started
// and stopped with the lab.
#include <sys/types.h>
#include <string>

#include "core/net.hpp"

namespace mobix {

inline constexpr const char* kLabHomeRealm = "home.mobix.test";
inline constexpr const char* kLabVisitedRealm = "visited.mobix.test";

struct LabVisited {
  pid_t pid = -1;
  Endpoint auth, acct, admin, dns;
  std::string config;
};

/// Issues the two networks' RadSec certificates from the lab CA when missing, and writes
/// `dir`/visited/mobix.yaml on the first run (its ports are fixed then). False when the home
/// config has no roaming section (a lab directory from before seed 002): one network only.
bool prepare_lab_visited(const std::string& dir);
/// Starts the visited network and waits until its admin listener answers. Throws on failure.
LabVisited start_lab_visited(const std::string& dir);
/// SIGTERM, then waits for it.
void stop_lab_visited(LabVisited& v);

}  // namespace mobix
