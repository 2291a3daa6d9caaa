#pragma once
// The initiating_db role (seed 003, the "telephone directory"): GET /v1/initiating/<identity code>
// over HTTPS with HTTP Negotiate (SPNEGO, RFC 4559). Only the device's own principal
// ("<identity code>@<realm>") gets its initiating information: the home address, the subscriber's
// user name and the Mobile IP security association with the Home Agent (claim 1).
#include <memory>

#include "core/role.hpp"

namespace mobix {

std::unique_ptr<Role> make_initiating_db_role(RoleContext& ctx);

}  // namespace mobix
