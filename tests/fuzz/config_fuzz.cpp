#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config.hpp"
#include "node/config_sections.hpp"

// libFuzzer target for the config file: any text either parses or is refused with a ConfigError
// (file, line, key, why). Another exception escaping, a crash or UB is a finding.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string yaml(reinterpret_cast<const char*>(data), size);
  try {
    // A directory that does not exist: every file the config names is missing (refused, not read).
    auto cfg = mobix::parse_config(yaml, "/nonexistent-mobix-fuzz/mobix.yaml");
    if (cfg.source.empty()) __builtin_trap();
  } catch (const mobix::ConfigError&) {
  }
  return 0;
}
