#pragma once
// The dns role's config section (`dns:`, seed 002): its tables and parser (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& dns_config_section();

}  // namespace mobix
