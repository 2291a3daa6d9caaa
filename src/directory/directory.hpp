#pragma once
// The subscriber directory: who a subscriber is and what they are entitled to.
// Backends: the embedded store (here) and the operator's LDAP (ldap_directory.hpp).
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "directory/subscriber_rules.hpp"
#include "store/records.hpp"
#include "store/store.hpp"

namespace mobix {

/// The directory could not be asked (server down, timeout): a temporary failure, unlike
/// "no such subscriber".
class DirectoryUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Directory {
 public:
  virtual ~Directory() = default;
  /// Finds a subscriber by any identity: MSISDN, IMSI, user name or serial number.
  virtual std::optional<Subscriber> find(std::string_view identity) = 0;
  virtual std::optional<Subscriber> find(IdentityKind kind, std::string_view value) = 0;
  virtual std::vector<Subscriber> list() = 0;
  /// Validates, then stores. Throws std::invalid_argument or StoreConflict.
  virtual Subscriber add(Subscriber s) = 0;
  virtual void update(const Subscriber& s) = 0;
  virtual bool remove(std::int64_t id) = 0;
  /// The subscriber's session ended: drop anything cached about them.
  virtual void forget(std::string_view /*msisdn*/) {}
  /// True when lookups may wait on the network: callers on an event loop run them elsewhere.
  virtual bool blocking() const { return false; }
};

class StoreDirectory final : public Directory {
 public:
  explicit StoreDirectory(SubscriberRepository& repo) : repo_(repo) {}
  std::optional<Subscriber> find(std::string_view identity) override;
  std::optional<Subscriber> find(IdentityKind kind, std::string_view value) override;
  std::vector<Subscriber> list() override { return repo_.list_subscribers(); }
  Subscriber add(Subscriber s) override;
  void update(const Subscriber& s) override;
  bool remove(std::int64_t id) override { return repo_.remove_subscriber(id); }

 private:
  std::optional<Subscriber> find_any(std::string_view identity);
  SubscriberRepository& repo_;
};

}  // namespace mobix
