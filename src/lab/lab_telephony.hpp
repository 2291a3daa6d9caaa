#pragma once
// Seed 003 in the lab: an MIT Kerberos realm with its own KDC in DIR/krb5 (its own krb5.conf and
// kdc.conf, never the system's), the Home Agent, the initiating database and the mobility manager in
// the lab's node, and one demo phone per demo subscriber, switched on at start.
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/net.hpp"

namespace mobix {

class Store;
class Directory;

inline constexpr const char* kLabRealm = "LAB.MOBIX.TEST";

struct LabDevice {
  std::string identity_code, msisdn, home_address;
};

struct LabTelephony {
  pid_t kdc_pid = -1;
  Endpoint kdc;
  std::string krb5_conf;
  std::vector<LabDevice> devices;
};

/// First run: creates the realm (kdb5_util, kadmin.local: HTTP/localhost and one principal per demo
/// phone, keytabs) and appends the telephony sections to `config_text`. False, with a log line, when
/// MIT Kerberos is not installed (the lab then runs without seed 003).
bool prepare_lab_telephony(const std::string& dir, std::string& config_text);
/// Starts the realm's KDC when the lab has one; waits until it answers.
std::optional<LabTelephony> start_lab_kdc(const std::string& dir);
/// Adds the demo phones' device records (first run) and lists them in `t`.
void add_lab_devices(const std::string& dir, Store& store, Directory& directory, LabTelephony& t);
/// Switches the demo phones on through the mobility manager, as their base station would (in the
/// background, once the node serves).
void switch_on_lab_devices(const LabTelephony& t, const Endpoint& mobility_manager);
void stop_lab_kdc(LabTelephony& t);

}  // namespace mobix
