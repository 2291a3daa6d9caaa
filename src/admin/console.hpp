#pragma once
// The call-center console (seed 004 Phase I): a web page the admin listener serves at /console/,
// for a person registering boxes and watching them configure. Static assets only; the page uses
// the admin API (/api/v1/cb) with the operator's bearer token, kept in the tab's session storage.
#include <optional>
#include <string>

#include "net/http.hpp"

namespace mobix {

/// The asset for `path` under /console/ (index, script, style), or nullopt.
std::optional<HttpResponse> console_asset(const std::string& path);

}  // namespace mobix
