#pragma once
// The lab's part of seed 001: the SMSC stand-in the relay and gateway talk SMPP to, and a demo
// mobile server (a small HTTP service bound to a lab handset's fixed address), both on their own
// thread next to the node.
#include <map>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/net.hpp"

namespace mobix {

class Directory;

struct LabRelay {
  Endpoint smsc;
  Endpoint mobile_server;  ///< where the demo service listens (the handset's address)
  std::string hostname;    ///< the public name clients use at the relay
  std::string msisdn;
  struct Runner;
  std::shared_ptr<Runner> runner;  ///< stops the SMSC and the demo server when the last copy goes
};

/// The demo mobile server's subscriber (created when missing).
inline constexpr const char* kLabCamMsisdn = "31610000100";
inline constexpr const char* kLabCamHostname = "cam.lab.mobix.test";
inline constexpr const char* kLabCamIp = "127.3.0.9";

/// Starts the SMSC on the address the config names and the demo server, and points the demo
/// subscriber's relay.http_port at it. Throws when the SMSC port is taken.
/// `extra_accounts`: more SMSC accounts (system_id -> password), e.g. the lab boxes' receiver.
LabRelay start_lab_relay(const Config& cfg, Directory& dir,
                         const std::map<std::string, std::string>& extra_accounts = {});

}  // namespace mobix
