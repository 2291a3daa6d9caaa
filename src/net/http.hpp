#pragma once
// HTTP request/response types shared by the HTTP/1.1 server (net/http_server.hpp: the admin API, the
// gateway's webhook, the lab's camera) and the client (net/http_client.hpp), so Beast stays inside
// the .cpp files.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace mobix {

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string path;    ///< without the query
  std::string query;   ///< after '?', undecoded
  std::string body;
  std::string authorization;
  std::string content_type;
  std::string host;    ///< the Host header
  std::string origin;  ///< the Origin header (browsers send it on cross-site requests)
  std::string peer;    ///< the client's address
  /// Over mutual TLS, the client's verified certificate: its subject CN and OU and its serial
  /// (upper-case hex); empty otherwise.
  struct PeerCertificate {
    std::string common_name, unit, serial;
    bool present() const { return !serial.empty(); }
  } peer_cert;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  bool close = false;  ///< close the connection after this response (refusals)
  /// Extra header fields (a web page's Content-Security-Policy and the like).
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// Handlers answer through `reply`, possibly later (after a durable write), on the io thread.
using HttpReply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(const HttpRequest&, HttpReply)>;

/// Returns the value of `key` in an application/x-www-form-urlencoded query, decoded.
std::string query_param(const std::string& query, const std::string& key);

}  // namespace mobix
