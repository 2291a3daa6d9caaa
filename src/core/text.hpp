#pragma once
// Small text helpers shared by config, access and roaming (DNS names and realms are ASCII).
#include <string>

namespace mobix {

/// ASCII lower-case (host names, realms, YAML keys); other octets unchanged.
inline std::string ascii_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

}  // namespace mobix
