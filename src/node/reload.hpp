#pragma once
// SIGHUP (issue 13 item 7): what an operator changes while the node serves — the RADIUS clients and
// their secrets, the mail proxies' access ranges, the log level — is applied without dropping a
// session; a change to anything else is reported as needing a restart (and not applied); a config
// that does not validate is refused whole and the running one kept.
#include <string>
#include <vector>

#include "core/config.hpp"

namespace mobix {

struct ReloadResult {
  enum class Outcome { applied, unchanged, needs_restart, invalid };
  Outcome outcome = Outcome::unchanged;
  std::vector<std::string> applied;        ///< "access.radius.clients", ...
  std::vector<std::string> needs_restart;  ///< paths of changes not applied ("access.pools", ...)
  std::string error;                       ///< invalid: the ConfigError (file:line: key: why)
};
const char* to_string(ReloadResult::Outcome o);

/// The keys applied live, as YAML paths.
const std::vector<std::string>& live_config_keys();

/// Validates `new_yaml` (read from cur.source) and applies its live keys to `cur`; `old_yaml` is the
/// text `cur` was made from (it becomes `new_yaml` unless a change needs a restart, which the next
/// reload then reports again). On the thread that runs the roles reading `cur`.
ReloadResult reload_config(Config& cur, std::string& old_yaml, const std::string& new_yaml);

}  // namespace mobix
