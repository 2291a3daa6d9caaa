#pragma once
// The lab's part of seed 004: two demo connectivity boxes, minted at the lab's factory and
// registered at its call center on the first run, then powered up (their box agents run on a
// thread of the lab) so they go through Phases II and III at every start.
#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/net.hpp"

namespace mobix {

class Store;

struct LabBox {
  std::string serial, cb_id, cb_name, state_dir, line;
};

struct LabBoxes {
  std::vector<LabBox> boxes;
  struct Runner;
  std::shared_ptr<Runner> runner;  ///< stops the box agents when the last copy goes
};

/// The SMSC account the lab's boxes receive their wake-ups on (their "radio").
inline constexpr const char* kLabBoxesSmscAccount = "boxes";

/// Mints and registers the demo boxes when `dir`/boxes does not hold them yet, then starts their
/// agents against the node's RADIUS listeners (`secret`) and the lab SMSC.
LabBoxes start_lab_boxes(const std::string& dir, const Config& cfg, Store& store, const Endpoint& auth,
                         const Endpoint& acct, const std::string& secret, const Endpoint& smsc,
                         const std::string& smsc_password);

}  // namespace mobix
