#pragma once
// One mobix process: the roles named in the config, sharing one store, one directory,
// one event loop and one admin listener (`mobix serve`, and `mobix lab`).
#include <map>
#include <memory>
#include <string>

#include "core/config.hpp"
#include "core/role.hpp"

namespace mobix {

class Directory;
class SessionView;
class Store;

class Node {
 public:
  /// Opens the store; throws StoreError.
  explicit Node(Config cfg);
  ~Node();
  /// Binds every listener; throws when one cannot be bound.
  void start();
  /// Serves until SIGTERM/SIGINT, then drains and flushes the store.
  void run();
  void request_stop();
  /// "access.radius_auth" -> where it actually listens (port 0 resolved).
  Listeners listeners() const;
  Directory& directory();
  /// The store the roles share (the lab seeds demo data through it).
  Store& store();
  /// The access sessions' read side, or null when the node runs no access role.
  SessionView* sessions();
  const Config& config() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix
