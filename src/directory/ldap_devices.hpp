#pragma once
// Seed 003 with the operator's LDAP as the directory: devices (identity code, home address, Mobile IP
// security association) are read from LDAP like the subscribers they belong to, while what mobix
// itself writes (the Home Agent's bindings, the billing service's call records) stays in the store.
#include "directory/ldap_directory.hpp"
#include "store/store.hpp"

namespace mobix {

class LdapDeviceRepository final : public DeviceRepository {
 public:
  LdapDeviceRepository(LdapDirectory& ldap, DeviceRepository& store) : ldap_(ldap), store_(store) {}

  /// Throw std::invalid_argument: provisioning happens in LDAP, not through mobix.
  void add_device(const Device& d) override;
  bool remove_device(std::string_view identity_code) override;

  std::optional<Device> find_device(DeviceKey key, std::string_view value) override {
    return ldap_.find_device(key, value);
  }
  bool blocking() const override { return true; }
  std::vector<Device> list_devices(std::int64_t subscriber_id = 0) override {
    return ldap_.list_devices(subscriber_id);
  }
  std::vector<MobilityBinding> load_mobility_bindings() override { return store_.load_mobility_bindings(); }
  std::optional<MobilityBinding> find_mobility_binding(std::string_view home_address) override {
    return store_.find_mobility_binding(home_address);
  }
  std::pair<CallRecord, bool> add_call_record(const CallRecord& r) override {
    return store_.add_call_record(r);
  }
  std::vector<CallRecord> list_call_records(const std::string& principal = {}) override {
    return store_.list_call_records(principal);
  }

 private:
  LdapDirectory& ldap_;
  DeviceRepository& store_;
};

}  // namespace mobix
