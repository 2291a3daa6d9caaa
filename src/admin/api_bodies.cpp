#include "admin/api_bodies.hpp"

#include <ctime>
#include <map>
#include <set>
#include <stdexcept>

#include "codec/mip/mip.hpp"
#include "directory/subscriber_rules.hpp"

namespace mobix::admin {

using json = nlohmann::json;

Registration registration_from(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("body must be a JSON object");
  Registration r;
  std::map<std::string, std::string*> fields{
      {"serial", &r.serial},   {"cb_name", &r.cb_name}, {"friendly_name", &r.friendly_name},
      {"line_id", &r.line_id}, {"name", &r.name},       {"street_address", &r.street_address},
      {"billing", &r.billing}};
  for (auto& [k, v] : j.items()) {
    if (auto it = fields.find(k); it != fields.end()) {
      if (!v.is_string()) throw RegistrationError(k, "must be a string");
      *it->second = v.get<std::string>();
    } else if (k == "address_book") {
      if (!v.is_array()) throw RegistrationError(k, "must be a list of {cb_name, friendly_name}");
      for (const auto& e : v) {
        if (!e.is_object() || !e.value("cb_name", json()).is_string() ||
            !e.value("friendly_name", json()).is_string())
          throw RegistrationError(k, "must be a list of {cb_name, friendly_name}");
        r.address_book.push_back({e["cb_name"].get<std::string>(), e["friendly_name"].get<std::string>()});
      }
    } else {
      throw RegistrationError(k, "unknown field");
    }
  }
  return r;
}

// Applies the fields present in `j` to `s`; rejects unknown fields and wrong types.
void merge(Subscriber& s, const json& j) {
  if (!j.is_object()) throw std::invalid_argument("body must be a JSON object");
  for (const auto& item : j.items()) {
    const std::string& k = item.key();
    const json& v = item.value();
    auto str = [&](std::string& field) {
      if (!v.is_string()) throw std::invalid_argument(k + ": must be a string");
      field = v.get<std::string>();
    };
    if (auto* field = subscriber_field(s, k))
      str(*field);
    else if (k == "attrs") {
      if (!v.is_object()) throw std::invalid_argument("attrs: must be an object of strings");
      for (auto& [ak, av] : v.items()) {
        if (av.is_null())
          s.attrs.erase(ak);
        else if (av.is_string())
          s.attrs[ak] = av.get<std::string>();
        else
          throw std::invalid_argument("attrs." + ak + ": must be a string or null");
      }
    } else if (k == "id" || k == "password_set" || k == "secret_attrs_set") {
      continue;  // read-only, tolerated so a GET result can be sent back
    } else {
      throw std::invalid_argument(k + ": unknown field");
    }
  }
}

std::string required_string(const json& j, const char* k) {
  if (!j.contains(k) || !j[k].is_string()) throw std::invalid_argument(std::string(k) + ": required string");
  return j[k].get<std::string>();
}

/// The request body as a device; the subscriber is resolved by the caller.
Device device_from(const json& j) {
  if (!j.is_object()) throw std::invalid_argument("body must be a JSON object");
  static const std::set<std::string> known{"identity_code", "subscriber", "home_address", "mip_spi",
                                           "mip_key"};
  for (auto& [k, v] : j.items())
    if (!known.count(k)) throw std::invalid_argument(k + ": unknown field");
  Device d;
  d.identity_code = required_string(j, "identity_code");
  d.home_address = required_string(j, "home_address");
  d.mip_spi = mip::kMinSpi;
  if (j.contains("mip_spi")) {
    if (!j["mip_spi"].is_number_unsigned() || j["mip_spi"].get<std::uint64_t>() > 0xffffffffu)
      throw std::invalid_argument("mip_spi: an integer from 256 to 4294967295 (RFC 5944 1.6)");
    d.mip_spi = j["mip_spi"].get<std::uint32_t>();
  }
  d.mip_key_hex = required_string(j, "mip_key");
  validate_device(d);  // the same rules as a device read from LDAP
  d.created = static_cast<std::int64_t>(std::time(nullptr));
  return d;
}

}  // namespace mobix::admin
