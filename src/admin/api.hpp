#pragma once
// The admin JSON API under /api/v1, plus /healthz and /metrics.
#include <string>

#include "admin/http.hpp"

namespace mobix {

class Directory;
class AccessRole;

class AdminApi {
 public:
  /// `access` may be null when the node runs no access role.
  AdminApi(Directory& dir, AccessRole* access, std::string token)
      : dir_(dir), access_(access), token_(std::move(token)) {}
  void handle(const HttpRequest& req, HttpReply reply);

 private:
  void subscribers(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void sessions(const HttpRequest& req, const std::string& key, HttpReply& reply);
  Directory& dir_;
  AccessRole* access_;
  std::string token_;
};

}  // namespace mobix
