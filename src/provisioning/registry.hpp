#pragma once
// Seed 004 Phase I: the call center registers a box to its user. One place validates a
// registration and keeps the user record (63) and the billing data (24) apart, linked by the CB ID;
// the admin API, its CLI and the call-center page all register through here, and the roles that
// move a box through Phases II and III change its record through transition().
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace mobix {

/// What the call center takes from the user (seed 004 Phase I).
struct Registration {
  std::string serial;
  std::string cb_name;  ///< empty: generated from the user's name
  std::string friendly_name;
  std::string line_id;
  std::string name;
  std::string street_address;
  std::string billing;
  std::vector<AddressBookEntry> address_book;
};

/// A registration that cannot be stored, with a message per field (the form shows them).
class RegistrationError : public std::invalid_argument {
 public:
  explicit RegistrationError(std::map<std::string, std::string> fields);
  RegistrationError(const std::string& field, const std::string& message)
      : RegistrationError(std::map<std::string, std::string>{{field, message}}) {}
  const std::map<std::string, std::string>& fields() const { return fields_; }

 private:
  std::map<std::string, std::string> fields_;
};

class BoxRegistry {
 public:
  explicit BoxRegistry(BoxRepository& repo) : repo_(repo) {}

  /// Validates and stores; throws RegistrationError (also for a serial, CB Name or line already
  /// registered) or StoreError.
  BoxRecord register_box(const Registration& r, std::int64_t now);
  /// By CB ID, CB Name or serial.
  std::optional<BoxRecord> find(std::string_view key);
  std::vector<BoxRecord> list(std::optional<BoxState> state = std::nullopt) {
    return repo_.list_boxes(state);
  }
  std::optional<BoxBilling> billing(std::string_view cb_id) { return repo_.find_billing(cb_id); }
  /// Applies `change` to the freshest record until the write wins over concurrent writers;
  /// `change` returns false to leave the record alone. Returns the record as written (or as found
  /// when left alone); nullopt when there is no such box.
  std::optional<BoxRecord> transition(std::string_view cb_id, const std::function<bool(BoxRecord&)>& change,
                                      std::int64_t now);
  BoxRepository& repository() { return repo_; }

  /// The rules, for the web form's own checks too.
  static bool valid_cb_name(std::string_view s);
  static bool valid_line_id(std::string_view s);

 private:
  std::string new_cb_id();
  std::string generated_cb_name(const std::string& name);
  BoxRepository& repo_;
};

}  // namespace mobix
