#include "admin/api_util.hpp"

#include <ctime>

#include "core/metrics.hpp"

namespace mobix::admin {

using json = nlohmann::json;

std::string iso8601(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Every refused API request is counted by status (400 bad input, 401, 404, 405, 409).
HttpResponse error(int status, const std::string& msg) {
  metrics()
      .counter("mobix_admin_errors_total", "Admin API requests refused, by HTTP status",
               "status=\"" + std::to_string(status) + "\"")
      .inc();
  // A message may quote a URL's bytes: invalid UTF-8 is replaced, never an exception here.
  return HttpResponse{status, "application/json",
                      json{{"error", msg}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"};
}
HttpResponse ok(const json& j, int status) {
  return HttpResponse{status, "application/json",
                      j.dump(2, ' ', false, json::error_handler_t::replace) + "\n"};
}

}  // namespace mobix::admin
