#pragma once
// The role interface (DESIGN.md "Layout": roles as modules). A node builds its roles from the table
// in node/role_table.cpp: each role is made from a RoleContext, started, asked for its listeners,
// stopped on SIGTERM and awaited until drained. A role reaches other roles only through the spine
// in the context (sessions, directory, store) and through messages on the wire.
#include <map>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/net.hpp"

namespace mobix {

struct Config;
class Store;
class StoreWriter;
class Directory;
class DeviceRepository;
class SessionView;
class SessionControl;
class JobLeader;

/// One listener of a role, as lab.json and `mobix serve` report it.
struct ListenerInfo {
  Endpoint endpoint;
  std::string protocol;
};
/// "access.radius_auth" -> where it listens (port 0 resolved).
using Listeners = std::map<std::string, ListenerInfo>;

class Role {
 public:
  virtual ~Role() = default;
  /// Binds every listener and starts serving; throws when a listener cannot be bound.
  virtual void start() = 0;
  /// Stops accepting new work; in-flight work goes on until drained() (SIGTERM, DESIGN.md).
  virtual void stop() = 0;
  virtual bool drained() const { return true; }
  /// Adds this role's listeners to `out`.
  virtual void listeners(Listeners& out) const = 0;
};

/// What a role may use from the node it runs in.
struct RoleContext {
  boost::asio::io_context& io;
  const Config& cfg;
  Store& store;
  StoreWriter& writer;
  Directory& directory;
  /// Seed 003's devices: the store's, or read from LDAP when the directory is LDAP (bindings and call
  /// records stay in the store either way).
  DeviceRepository& devices;
  /// The session table's read side, or null when this node runs no access role (config
  /// validation refuses a role that needs it without one).
  SessionView* sessions = nullptr;
  /// Operator actions on sessions (admin purge); null without an access role.
  SessionControl* session_control = nullptr;
  /// Singleton jobs between the nodes sharing the store (a role registers its jobs when made).
  JobLeader* jobs = nullptr;
};

}  // namespace mobix
