#include "access/config_auth.hpp"

#include <openssl/crypto.h>

#include "access/access_service.hpp"
#include "core/text.hpp"
#include "provisioning/factory.hpp"

namespace mobix {

bool ConfigAuthorizer::handles(std::string_view username) const {
  return !realm_.empty() && AccessService::realm_of(username) == realm_;
}

std::string ConfigAuthorizer::serial_of(std::string_view username) {
  return std::string(username.substr(0, username.rfind('@')));
}

std::int64_t ConfigAuthorizer::lease_key(std::string_view username) {
  return AccessService::roamer_id(username);
}

std::optional<ConfigAuthRefusal> ConfigAuthorizer::check(std::string_view username,
                                                         const std::string& pap_password, bool has_chap,
                                                         std::int64_t now) {
  auto serial = serial_of(username);
  auto valid = boxes_.find_valid_serial(serial);
  if (!valid) return ConfigAuthRefusal{"unknown serial number", "unknown_serial"};
  std::optional<ConfigAuthRefusal> refusal;
  if (valid->revoked != 0) {
    refusal = ConfigAuthRefusal{"serial number revoked", "revoked_serial"};
  } else if (pap_password.empty()) {
    refusal = ConfigAuthRefusal{
        has_chap ? "configuration log-in needs PAP (User-Password)" : "no User-Password in the request",
        "no_credentials"};
  } else {
    auto got = password_sha256(pap_password);
    if (got.size() != valid->password_sha256.size() ||
        CRYPTO_memcmp(got.data(), valid->password_sha256.data(), got.size()) != 0)
      refusal = ConfigAuthRefusal{"authentication failed", "bad_password"};
  }
  if (refusal) note_on_record(serial, *refusal, now);
  return refusal;
}

void ConfigAuthorizer::note_on_record(const std::string& serial, const ConfigAuthRefusal& why,
                                      std::int64_t now) {
  auto rec = boxes_.find_box(BoxRepository::Key::serial, serial);
  auto reason = "configuration log-in refused: " + why.reason;
  if (!rec || (rec->state == BoxState::config_error && rec->state_reason == reason)) return;
  rec->state = BoxState::config_error;
  rec->state_reason = reason;
  rec->updated = now;
  boxes_.update_box(*rec);  // lost to a concurrent writer: that one's news is newer
}

}  // namespace mobix
