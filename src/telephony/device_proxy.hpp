#pragma once
// One represented device inside the mobility manager (seed 003): its state, its tickets, its
// initiating information and its Mobile IP registration.
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/net.hpp"
#include "kerberos/kerberos.hpp"
#include "mobile_node/mobile_node.hpp"
#include "telephony/sip_transport.hpp"

namespace mobix::telephony {

enum class DeviceState {
  queued,         ///< waiting for a bootstrap slot (mobility_manager.bootstraps_in_flight)
  bootstrapping,  ///< getting tickets and the initiating information
  registering,    ///< Mobile IP registration with the Home Agent
  active,         ///< represented: registered, tickets valid
  retrying,       ///< the last attempt failed (`reason`); the next one is scheduled
  stopping,       ///< switched off or silent: deregistering
};
const char* to_string(DeviceState s);

/// What the initiating database hands out for a device (claim 1).
struct InitiatingInfo {
  std::string user_name, msisdn;
  std::uint32_t home_address = 0;
  Endpoint home_agent;
  std::uint32_t home_agent_address = 0;
  mip::SecurityAssociation sa;
};
/// Parses the initiating database's JSON; nullopt when a field is missing or malformed.
std::optional<InitiatingInfo> parse_initiating_info(const std::string& body);

struct DeviceProxy {
  explicit DeviceProxy(boost::asio::any_io_executor ex) : wake(ex) {}
  std::string code;
  DeviceState state = DeviceState::bootstrapping;
  std::string reason;  ///< why the last attempt failed
  std::uint32_t care_of = 0;
  std::uint32_t registered_care_of = 0;  ///< the care-of address the Home Agent has
  std::int64_t last_heard = 0;           ///< unix seconds of the last report
  std::int64_t registered_at = 0;
  std::uint16_t granted = 0;                  ///< the Home Agent's lifetime for the last registration
  std::shared_ptr<krb::Credentials> tickets;  ///< shared with a charge in flight while renewed
  std::int64_t tickets_from = 0;              ///< when they were obtained
  std::int64_t next_ticket_try = 0;           ///< after a failed renewal (the KDC down): when to try again
  InitiatingInfo info;
  std::unique_ptr<mip::MobileNode> node;
  unsigned failures = 0;           ///< in a row (the backoff)
  bool off = false;                ///< switched off (or silent): stop
  bool admitted = false;           ///< holds one of the bootstrap slots
  boost::asio::steady_timer wake;  ///< cancelled when a report changes something
  /// The device's own phone (a SIP user agent behind its base station) after it registered.
  std::optional<SipPeer> phone;
  std::int64_t phone_until = 0;  ///< unix seconds the registration lasts
};

}  // namespace mobix::telephony
