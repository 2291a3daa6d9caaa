#pragma once
// Seed 003's config sections: `kerberos:` (the realm, for every role that uses it),
// `initiating_db:` and `mobility_manager:` (docs/config.md, docs/telephony.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& kerberos_config_section();
const ConfigSectionHandler& initiating_db_config_section();
const ConfigSectionHandler& mobility_manager_config_section();
const ConfigSectionHandler& billing_config_section();

}  // namespace mobix
