#pragma once
// The roaming config section (`roaming:`, seed 002): its tables and parser (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& roaming_config_section();

}  // namespace mobix
