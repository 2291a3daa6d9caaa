// libFuzzer target for the LDAP entry mapping: whatever the operator's directory holds, a subscriber
// comes out only if it keeps the rules (E.164 MSISDN, IPv4 framed IP, no control characters in
// anything that reaches a protocol line), and otherwise std::invalid_argument names the attribute.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

#include "directory/ldap_entry.hpp"

namespace {
bool control_free(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}
}  // namespace

// The input is the DN, then one line per attribute of the default map in its order ("\x01" = absent).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto map = mobix::default_ldap_attributes();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto next = [&in] {
    auto eol = in.find('\n');
    auto line = in.substr(0, eol);
    in.remove_prefix(eol == std::string_view::npos ? in.size() : eol + 1);
    return std::string(line);
  };
  std::string dn = next();
  std::map<std::string, std::string> values;
  for (const auto& [field, attr] : map)
    if (auto v = next(); v != "\x01") values[attr] = v;
  auto first = [&](const std::string& attr) -> std::optional<std::string> {
    auto it = values.find(attr);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
  try {
    auto s = mobix::subscriber_from_entry(dn, map, first);
    if (s.id <= 0) __builtin_trap();
    if (!s.msisdn.empty() && (s.msisdn.size() < 3 || s.msisdn.size() > 15 ||
                              s.msisdn.find_first_not_of("0123456789") != std::string::npos))
      __builtin_trap();
    unsigned char ip[4];
    if (!s.framed_ip.empty() && inet_pton(AF_INET, s.framed_ip.c_str(), ip) != 1) __builtin_trap();
    if (!control_free(s.username) || !control_free(s.serial) || !control_free(s.hostname)) __builtin_trap();
    for (const auto& [k, v] : s.attrs)
      if (!control_free(k) || !control_free(v)) __builtin_trap();
  } catch (const std::invalid_argument&) {
    // refused, with the attribute named: the answer to bad data
  }
  // The same lines as a device entry (seed 003): identity code, home address, SPI, key.
  auto device_value = [&](const std::string& attr) -> std::optional<std::string> {
    static const char* order[] = {"mobile", "uid", "mobixImsi", "mobixSerial"};
    const std::string* from = nullptr;
    if (attr == "mobixIdentityCode") from = &values[order[0]];
    if (attr == "mobixHomeAddress") from = &values[order[1]];
    if (attr == "mobixMipSpi") from = &values[order[2]];
    if (attr == "mobixMipKey") from = &values[order[3]];
    if (!from || from->empty()) return std::nullopt;
    return *from;
  };
  try {
    auto d = mobix::device_from_entry(dn, device_value);
    unsigned char ip[4];
    if (d.mip_spi < 256 || d.identity_code.size() < 4 || d.identity_code.size() > 64 ||
        d.mip_key_hex.size() < 32 || inet_pton(AF_INET, d.home_address.c_str(), ip) != 1 ||
        d.subscriber_id <= 0)
      __builtin_trap();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
