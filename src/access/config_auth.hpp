#pragma once
// The configuration authorisation server (seed 004 Phase II step [3]): a box logs in to the
// configuration access point as "serial@config_domain" with the password from its pre-installed
// parameters (190). The access role routes that realm here instead of to the subscriber directory:
// the serial must be in the valid-serial database (183), not revoked, and the password must match.
// Only PAP: the database keeps a hash of the password, never the password (CHAP would need it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/store.hpp"

namespace mobix {

struct ConfigAuthRefusal {
  std::string reason;         ///< Reply-Message and log; names no secret
  std::string metric_reason;  ///< mobix_radius_access_rejects_total{reason}
};

class ConfigAuthorizer {
 public:
  ConfigAuthorizer(std::string realm, BoxRepository& boxes) : realm_(std::move(realm)), boxes_(boxes) {}

  /// True for "serial@<the configuration realm>" (case-insensitive realm).
  bool handles(std::string_view username) const;
  /// The serial part of a configuration log-in name.
  static std::string serial_of(std::string_view username);
  /// Checks the log-in; `pap_password` is the unhidden User-Password (empty when the request had
  /// none or used CHAP). On a refusal of a registered box, its user record says why (seed 004:
  /// refusals are visible to the call center), written once per distinct reason.
  std::optional<ConfigAuthRefusal> check(std::string_view username, const std::string& pap_password,
                                         bool has_chap, std::int64_t now);
  /// The lease key of a box's configuration address (never a directory subscriber id).
  static std::int64_t lease_key(std::string_view username);

 private:
  void note_on_record(const std::string& serial, const ConfigAuthRefusal& why, std::int64_t now);
  std::string realm_;
  BoxRepository& boxes_;
};

}  // namespace mobix
