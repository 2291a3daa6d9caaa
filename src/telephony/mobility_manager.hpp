#pragma once
// The mobility_manager role (seed 003's proxy manager). Base stations report a device switched on
// (its identity code and where it is attached) or off. For each device it obtains a TGT with the
// identity code as the principal (claim 1), a service ticket for the initiating database, fetches
// the initiating information over HTTPS with HTTP Negotiate, and represents the device: a Mobile IP
// mobile node towards the Home Agent (claim 5: a new care-of address when it moves). Thousands of
// devices per process: one coroutine and one small record each, one UDP socket for all.
#include <memory>

#include "core/role.hpp"

namespace mobix {

std::unique_ptr<Role> make_mobility_manager_role(RoleContext& ctx);

}  // namespace mobix
