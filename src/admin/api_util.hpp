#pragma once
// Replies shared by the admin API's collections (api.cpp, api_devices.cpp).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "net/http.hpp"

namespace mobix::admin {

/// A refusal: counted by status (mobix_admin_errors_total) with {"error": msg}.
HttpResponse error(int status, const std::string& msg);
HttpResponse ok(const nlohmann::json& j, int status = 200);
std::string iso8601(std::int64_t unix_seconds);

}  // namespace mobix::admin
