#include "telephony/device_proxy.hpp"

#include <nlohmann/json.hpp>

#include "core/hex.hpp"

namespace mobix::telephony {

const char* to_string(DeviceState s) {
  switch (s) {
    case DeviceState::queued:
      return "queued";
    case DeviceState::bootstrapping:
      return "bootstrapping";
    case DeviceState::registering:
      return "registering";
    case DeviceState::active:
      return "active";
    case DeviceState::retrying:
      return "retrying";
    case DeviceState::stopping:
      return "stopping";
  }
  return "unknown";
}

std::optional<InitiatingInfo> parse_initiating_info(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto str = [&](const char* k) {
    return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
  };
  InitiatingInfo info;
  info.user_name = str("user_name");
  info.msisdn = str("msisdn");
  auto home = mip::ipv4_from_string(str("home_address"));
  auto ha = parse_endpoint(str("home_agent"));
  auto ha_addr = mip::ipv4_from_string(str("home_agent_address"));
  auto key_hex = str("mip_key");
  if (!home || !ha || !ha_addr || key_hex.size() < 32 || key_hex.size() % 2 || !j.contains("mip_spi") ||
      !j["mip_spi"].is_number_unsigned())
    return std::nullopt;
  info.home_address = *home;
  info.home_agent = *ha;
  info.home_agent_address = *ha_addr;
  info.sa.spi = j["mip_spi"].get<std::uint32_t>();
  auto key = decode_hex(key_hex);
  if (!key) return std::nullopt;
  info.sa.key = std::move(*key);
  return info;
}

}  // namespace mobix::telephony
