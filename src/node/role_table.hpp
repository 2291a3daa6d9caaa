#pragma once
// Which roles a node can run, in the order they start (each may use what earlier ones put in the
// RoleContext: access publishes the session table). Adding a role is one row here, its module in
// src/<role>, and its config section.
#include <memory>
#include <span>

#include "core/role.hpp"

namespace mobix {

struct RoleEntry {
  const char* name;
  bool (*wanted)(const Config& cfg);
  std::unique_ptr<Role> (*make)(RoleContext& ctx);
};

std::span<const RoleEntry> role_table();

}  // namespace mobix
