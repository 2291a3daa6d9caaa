#pragma once
#include <functional>
// The admin JSON API under /api/v1, plus /healthz and /metrics.
#include <optional>
#include <string>
#include <vector>

#include "net/http.hpp"

namespace mobix {

class Directory;
class BoxRegistry;
class SessionView;
class SessionControl;
class DeviceRepository;

class AdminApi {
 public:
  /// `sessions` and `control` are null when the node runs no access role.
  /// `allowed_hosts`: names (besides addresses and localhost) the Host header may carry.
  AdminApi(Directory& dir, SessionView* sessions, SessionControl* control, std::string token,
           std::vector<std::string> allowed_hosts = {})
      : dir_(dir),
        sessions_(sessions),
        control_(control),
        token_(std::move(token)),
        allowed_hosts_(std::move(allowed_hosts)) {}
  void handle(const HttpRequest& req, HttpReply reply);
  /// What /healthz reports: empty when healthy, else why the node is degraded (503).
  void set_health(std::function<std::string()> degraded) { degraded_ = std::move(degraded); }
  /// Seed 004 Phase I: /api/v1/cb registers and shows connectivity boxes.
  void set_boxes(BoxRegistry* boxes) { boxes_ = boxes; }
  /// Seed 003: /api/v1/devices (identity codes) and /api/v1/mip/bindings (the Home Agent's table).
  void set_devices(DeviceRepository* devices) { devices_ = devices; }

 private:
  std::optional<HttpResponse> refuse_cross_site(const HttpRequest& req) const;
  std::function<std::string()> degraded_;
  void subscribers(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void sessions(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void boxes(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void devices(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void bindings(const HttpRequest& req, const std::string& key, HttpReply& reply);
  void charges(const HttpRequest& req, const std::string& key, HttpReply& reply);
  BoxRegistry* boxes_ = nullptr;
  DeviceRepository* devices_ = nullptr;
  Directory& dir_;
  SessionView* sessions_;
  SessionControl* control_;
  std::string token_;
  std::vector<std::string> allowed_hosts_;
};

}  // namespace mobix
