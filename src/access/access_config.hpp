#pragma once
// The access role's config section (`access:`): its tables and parser (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& access_config_section();

}  // namespace mobix
