#pragma once
// Small text helpers shared by config, access and roaming (DNS names and realms are ASCII).
#include <string>
#include <string_view>

namespace mobix {

/// ASCII lower-case (host names, realms, YAML keys); other octets unchanged.
inline std::string ascii_lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

/// An identity code, call id or callee as the telephony roles carry them (seed 003): 4 to 64 of
/// A-Z a-z 0-9 . _ : - (safe in a URL path, a file name, a log line and a Kerberos principal).
/// A loop, not std::regex: libstdc++'s regex walks bounded repetitions by recursion, slowly.
inline bool is_identity_token(std::string_view s) {
  if (s.size() < 4 || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace mobix
