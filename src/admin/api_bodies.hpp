#pragma once
// The admin API's request bodies as typed values: what a stranger holding the token (or a browser
// tricked into posting) can send. Pure (JSON in, value or std::invalid_argument out), so
// fuzz_admin_json can reach it; the handlers in api.cpp and api_devices.cpp store the results.
#include <string>

#include <nlohmann/json.hpp>

#include "provisioning/registry.hpp"
#include "store/records.hpp"

namespace mobix::admin {

/// POST /cb: the call center's registration form (seed 004 Phase I). Throws RegistrationError.
Registration registration_from(const nlohmann::json& j);

/// POST/PUT /subscribers: applies the fields present in `j` to `s`; rejects unknown fields and wrong
/// types (std::invalid_argument). The caller validates the result (validate_subscriber).
void merge(Subscriber& s, const nlohmann::json& j);

/// POST /devices: the device without its subscriber, which the caller resolves. Throws
/// std::invalid_argument naming the field.
Device device_from(const nlohmann::json& j);

/// `j[k]` when it is a string; otherwise std::invalid_argument "k: required string".
std::string required_string(const nlohmann::json& j, const char* k);

}  // namespace mobix::admin
