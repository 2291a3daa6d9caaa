#pragma once
// Minimal HTTP request/response types shared by the admin server and client, so that
// Beast stays inside the .cpp files.
#include <functional>
#include <string>

namespace mobix {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string path;    ///< without the query
  std::string query;   ///< after '?', undecoded
  std::string body;
  std::string authorization;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

/// Handlers answer through `reply`, possibly later (after a durable write), on the io thread.
using HttpReply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

/// Returns the value of `key` in an application/x-www-form-urlencoded query, decoded.
std::string query_param(const std::string& query, const std::string& key);

}  // namespace mobix
