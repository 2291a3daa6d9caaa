#pragma once
// The css role's config section (`css:`, seed 004): its tables and parser (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& css_config_section();

}  // namespace mobix
