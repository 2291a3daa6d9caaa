// libFuzzer target for the admin API's request bodies (src/admin/api_bodies.cpp): any JSON a client
// sends becomes a typed value or a std::invalid_argument (400); nlohmann's own exceptions are caught
// by the API as 400 too. Anything else escaping, or a value that breaks the rules, is a finding.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "admin/api_bodies.hpp"
#include "codec/mip/mip.hpp"
#include "directory/subscriber_rules.hpp"

namespace {
using nlohmann::json;

void subscriber(const json& j) {
  mobix::Subscriber s;
  s.msisdn = "31612345678";
  try {
    mobix::admin::merge(s, j);
    mobix::validate_subscriber(s);
  } catch (const std::invalid_argument&) {
    return;
  } catch (const json::exception&) {
    return;
  }
  if (!s.msisdn.empty() && s.msisdn.find_first_not_of("0123456789") != std::string::npos) __builtin_trap();
  for (const auto& [k, v] : s.attrs)
    for (unsigned char c : k + v)
      if (c < 0x20) __builtin_trap();
}

void device(const json& j) {
  try {
    auto d = mobix::admin::device_from(j);
    if (d.mip_spi < mobix::mip::kMinSpi || d.mip_key_hex.size() < 32 || d.identity_code.size() < 4)
      __builtin_trap();
    if (!mobix::mip::ipv4_from_string(d.home_address)) __builtin_trap();
  } catch (const std::invalid_argument&) {
  } catch (const json::exception&) {
  }
}

void registration(const json& j) {
  try {
    (void)mobix::admin::registration_from(j);
  } catch (const std::invalid_argument&) {
  } catch (const json::exception&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto j = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  subscriber(j);
  device(j);
  registration(j);
  return 0;
}
