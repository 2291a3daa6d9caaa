#include "directory/ldap_devices.hpp"

#include <stdexcept>

namespace mobix {

void LdapDeviceRepository::add_device(const Device&) {
  throw std::invalid_argument(
      "the directory is the operator's LDAP: provision devices there (mobixDevice entries)");
}

bool LdapDeviceRepository::remove_device(std::string_view) {
  throw std::invalid_argument("the directory is the operator's LDAP: remove devices there");
}

}  // namespace mobix
