#pragma once
// The dns role (seed 002) as a module: the embedded zones, the publisher that makes them follow
// the access sessions (or sends RFC 2136 updates to the operator's server), and the server.
#include <memory>

#include "core/role.hpp"

namespace mobix {

/// Needs the access sessions in `ctx` (config validation guarantees an access role in the node).
/// Throws ConfigError for a zone the zone set refuses (check-config refuses it first).
std::unique_ptr<Role> make_dns_role(RoleContext& ctx);

}  // namespace mobix
