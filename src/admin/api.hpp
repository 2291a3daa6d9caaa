#pragma once
// The admin JSON API under /api/v1, plus /healthz and /metrics.
#include <string>

#include "net/http.hpp"

namespace mobix {

class Directory;
class SessionView;
class SessionControl;

class AdminApi {
 public:
  /// `sessions` and `control` are null when the node runs no access role.
  AdminApi(Directory& dir, SessionView* sessions, SessionControl* control, std::string token)
      : dir_(dir), sessions_(sessions), control_(control), token_(std::move(token)) {}
  void handle(const HttpRequest& req, HttpReply reply);

 private:
  void subscribers(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void sessions(const HttpRequest& req, const std::string& key, HttpReply& reply);
  Directory& dir_;
  SessionView* sessions_;
  SessionControl* control_;
  std::string token_;
};

}  // namespace mobix
