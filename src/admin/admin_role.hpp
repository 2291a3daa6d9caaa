#pragma once
// The admin listener as a module: the JSON API, /healthz and /metrics (docs/admin.md).
#include <memory>

#include "core/role.hpp"

namespace mobix {

std::unique_ptr<Role> make_admin_role(RoleContext& ctx);

}  // namespace mobix
