#pragma once
// A blocking HTTP/1.1 client for the `mobix admin` commands.
#include <string>

#include <chrono>

#include "core/net.hpp"
#include "net/http.hpp"

namespace mobix {

/// Throws std::runtime_error when the server cannot be reached.
HttpResponse http_call(const Endpoint& server, const std::string& method, const std::string& target,
                       const std::string& body = {}, const std::string& token = {},
                       std::chrono::seconds timeout = std::chrono::seconds(30));

}  // namespace mobix
