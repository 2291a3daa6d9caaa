#pragma once
// The home_agent role (seed 003, RFC 5944): Registration Requests over UDP, decided by
// HomeAgentCore with the devices' Mobile IP keys from the store, bindings committed durably by
// group commit before the reply.
#include <memory>

#include "core/role.hpp"

namespace mobix {

std::unique_ptr<Role> make_home_agent_role(RoleContext& ctx);

}  // namespace mobix
