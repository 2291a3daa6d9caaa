#pragma once
// The mail role (seed 000) as a module: the POP3, IMAP and SMTP proxies its config names.
#include <memory>

#include "core/role.hpp"

namespace mobix {

/// Needs the access sessions in `ctx` (config validation guarantees an access role in the node).
std::unique_ptr<Role> make_mail_role(RoleContext& ctx);

}  // namespace mobix
