#pragma once
// The billing role (seed 003 claims 2-3, the debiting service): POST /v1/charges over HTTPS with
// HTTP Negotiate. Each charge is bound to the principal Kerberos authenticated, written durably
// before it is acknowledged; a retried post (same principal and call id) is one charge.
#include <memory>

#include "core/role.hpp"

namespace mobix {

std::unique_ptr<Role> make_billing_role(RoleContext& ctx);

}  // namespace mobix
