#pragma once
// The box factory (seed 004, parameters 190), as a library: `mobix factory mint` and the lab's demo
// boxes both make boxes through here. A box gets a key pair made for it, a serial-number
// certificate from the root CA (OU serial), the configuration log-in "serial@config_realm" with a
// random password, and its serial in the valid-serial database (183) in the same step.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace mobix {

namespace pki {
class Signer;
}

struct MintRequest {
  std::string config_realm;  ///< css.config_realm
  std::uint16_t box_port = 8443;
  std::string css_name = "css";  ///< the configuration manager's certificate CN the box accepts
  std::uint32_t config_wait = 30, retry = 10;
  int days = 3650;
};

struct MintedBox {
  std::string serial;
  std::string dir;
  std::string cert_serial;  ///< the serial-number certificate's X.509 serial
};

/// Mints one box into `dir` (its flash) and records its serial. Throws std::invalid_argument for a
/// malformed serial, StoreError, std::runtime_error for files.
MintedBox mint_box(BoxRepository& repo, const pki::Signer& signer, const MintRequest& req,
                   const std::string& serial, const std::string& dir);

/// 1-64 letters, digits, '-', '_' or '.'.
bool valid_serial_number(std::string_view s);

/// Lowercase hex SHA-256 of `password` (what the valid-serial database keeps, never the password).
std::string password_sha256(std::string_view password);

}  // namespace mobix
