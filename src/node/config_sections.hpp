#pragma once
// The whole config file: the common sections (core) and every role's section (each beside its role),
// in one table. `mobix serve`, `mobix check-config`, the lab and the tests all load through here.
#include <ostream>
#include <span>
#include <string>
#include <string_view>

#include "core/config_section.hpp"

namespace mobix {

/// Every role's section, in the order they are parsed.
std::span<const ConfigSectionHandler> role_config_sections();

/// Reads and validates `path`; throws ConfigError naming file, line and key.
Config load_config(const std::string& path);
/// Same, from text; `source` names it in errors and anchors relative paths.
Config parse_config(std::string_view yaml, const std::string& source);

/// docs/config.md: every section's table (`mobix config reference`).
void write_config_reference(std::ostream& out);

}  // namespace mobix
