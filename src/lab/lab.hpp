#pragma once
// `mobix lab`: every role on loopback with the embedded store and demo data in one
// directory, described by DIR/lab.json once every listener is up.
#include <string>

namespace mobix {

struct LabOptions {
  /// Power up the demo connectivity boxes (seed 004) at start; off for a quiet lab whose RADIUS
  /// counters move only with what the user does.
  bool boxes = true;
  /// 2: a PostgreSQL store in the lab directory and a second node (chosen on the first run).
  int nodes = 1;
};

/// Runs the lab until SIGINT/SIGTERM. `dir` empty: a new temp dir. Returns an exit code.
int run_lab(std::string dir, LabOptions options = {});

}  // namespace mobix
