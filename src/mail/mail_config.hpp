#pragma once
// The mail role's config section (`mail:`): its table and parser (docs/config.md).
#include "core/config_section.hpp"

namespace mobix {

const ConfigSectionHandler& mail_config_section();

}  // namespace mobix
