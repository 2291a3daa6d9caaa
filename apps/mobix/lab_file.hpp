#pragma once
// Reading DIR/lab.json, which `mobix lab` writes once its listeners are up.
#include <string>

#include <nlohmann/json.hpp>

#include "core/net.hpp"

namespace mobix::cli {

nlohmann::json read_lab(const std::string& dir);
Endpoint lab_endpoint(const nlohmann::json& lab, const std::string& name);

}  // namespace mobix::cli
