#pragma once
// The operator's LDAP directory as a subscriber directory backend (seed 000 "operator LDAP
// (10)"), read through OpenLDAP's libldap. Read-only: subscribers are provisioned in LDAP by
// the operator's own tools. A small pool of bound connections (ldap:// with StartTLS, or
// ldaps://, certificates verified against `ca_file`), per-operation timeouts, and a short-lived
// cache of entries that the node drops when the subscriber's session ends.
#include <memory>
#include <string>

#include "core/config.hpp"
#include "directory/directory.hpp"

namespace mobix {

class LdapDirectory final : public Directory {
 public:
  /// Does not connect yet: the first lookup does, so a node starts while LDAP is down.
  explicit LdapDirectory(LdapConfig cfg);
  ~LdapDirectory() override;

  std::optional<Subscriber> find(std::string_view identity) override;
  std::optional<Subscriber> find(IdentityKind kind, std::string_view value) override;
  std::vector<Subscriber> list() override;
  /// Throw std::invalid_argument: provisioning happens in LDAP, not through mobix.
  Subscriber add(Subscriber s) override;
  void update(const Subscriber& s) override;
  bool remove(std::int64_t id) override;
  void forget(std::string_view msisdn) override;
  bool blocking() const override { return true; }

  /// Seed 003's devices: mobixDevice entries under their subscriber's entry (examples/ldap/mobix.schema).
  /// Read-only like the subscribers; throws DirectoryUnavailable when LDAP cannot be asked.
  std::optional<Device> find_device(DeviceKey key, std::string_view value);
  std::vector<Device> list_devices(std::int64_t subscriber_id = 0);

  /// The LDAP attribute each mobix field is read from, after the config's overrides.
  static std::vector<std::pair<std::string, std::string>> default_attributes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobix
