#pragma once
// The home_agent role's config section (`home_agent:`, seed 003, RFC 5944): tables and parser.
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& home_agent_config_section();

}  // namespace mobix
