#pragma once
// The relay's and the gateway's config sections (`relay:`, `gateway:`, seed 001): their tables and
// parsers (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& relay_config_section();
const ConfigSectionHandler& gateway_config_section();

}  // namespace mobix
