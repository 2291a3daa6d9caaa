#pragma once
// The css role (seed 004) as a module: the configuration manager (Phase II), the wake-up sender
// and the connectivity listener (Phase III), over the box records of the provisioning registry.
#include <memory>

#include "core/role.hpp"

namespace mobix {

/// Needs the access sessions in `ctx` (config validation guarantees an access role in the node).
std::unique_ptr<Role> make_css_role(RoleContext& ctx);

}  // namespace mobix
