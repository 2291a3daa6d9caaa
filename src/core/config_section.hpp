#pragma once
// Reading one section of the YAML config against its table (DESIGN.md "Config", Kea's style): each
// section has a SectionSpec listing its keys with type, default, range or choices and a one-line
// description. The parser reads keys through Section, which takes defaults and ranges from the
// table and refuses (as a programming error) a key the table does not list, so the table cannot
// drift from the code; `mobix config reference` prints the tables as docs/config.md.
// Roles keep their table and parse function beside their code (src/<role>/<role>_config.cpp) and
// register them as a ConfigSectionHandler in node/config_sections.cpp.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config.hpp"

namespace mobix {

/// One key of a section. `def` is the default as written in YAML ("" = none: required or optional,
/// as `doc` says); for u32 keys it is parsed, so the table is the only place a default lives.
struct KeySpec {
  std::string_view key;
  std::string_view type;  ///< u32, bool, string, endpoint, file, secret, enum, list, section, map
  std::string_view def;
  std::string_view doc;
  std::uint32_t min = 0, max = 0;  ///< u32: the accepted range
  std::string_view choices = {};   ///< enum: "a|b|c"
};

struct SectionSpec {
  std::string_view path;  ///< "mail", "relay.email", "access.radius.clients[]"
  std::string_view doc;
  std::span<const KeySpec> keys;
};

/// Walks a YAML mapping, remembering which keys were read so unknown ones are reported.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const std::string& file,
          const SectionSpec* spec = nullptr);

  [[noreturn]] void fail(const std::string& key, const YAML::Node& at, const std::string& what) const;
  std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }

  /// The value under `k`, or an undefined node when absent or null.
  YAML::Node get(const std::string& k);
  /// The same for a key documented elsewhere (a role's section at the top level).
  YAML::Node get_unlisted(const std::string& k);
  static bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

  std::optional<std::string> str(const std::string& k);
  std::string str(const std::string& k, const std::string& def) { return str(k).value_or(def); }
  /// With a table: the default from it.
  std::string str_or_default(const std::string& k);
  std::string required(const std::string& k);
  std::uint32_t u32(const std::string& k, std::uint32_t def, std::uint32_t min, std::uint32_t max);
  /// With a table: default and range from it.
  std::uint32_t u32(const std::string& k);
  bool boolean(const std::string& k, bool def);
  bool boolean(const std::string& k);
  Endpoint endpoint(const std::string& k, const Endpoint& def);
  /// With a table: the default from it (a key without one must be present).
  Endpoint endpoint(const std::string& k);
  /// One of the table's choices (default from the table), mapped to a typed value.
  template <typename E>
  E choice(const std::string& k, std::initializer_list<std::pair<std::string_view, E>> values) {
    auto v = str_or_default(k);
    for (const auto& [name, e] : values)
      if (name == v) return e;
    fail(key(k), get(k), "must be one of " + std::string(spec_key(k).choices));
  }
  /// A secret given inline (`<k>`) or from a file (`<k>_file`, relative to the config).
  std::string secret(const std::string& k, const std::string& base_dir);
  /// A path relative to the config file's directory; it must name a readable file. Empty if absent.
  std::string existing_file(const std::string& k, const std::string& base_dir);
  /// A bare mailbox for SMTP envelopes (name@domain, no brackets, spaces or line breaks).
  std::string mail_address(const std::string& k);

  void check_unknown() const;
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  const std::string& file() const { return file_; }

 private:
  const KeySpec& spec_key(const std::string& k) const;
  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  const SectionSpec* spec_;
  std::set<std::string> seen_;
};

/// Calls `f` with a Section for each item of the list under `k` (each checked for unknown keys).
void for_each_item(Section& parent, const std::string& k, const SectionSpec* item_spec,
                   const std::function<void(Section&)>& f);

std::string lower(std::string v);

/// Where relative paths are anchored (the config file's directory).
struct ConfigEnv {
  std::string source;
  std::string base_dir;
};

/// A role's config section: its tables (the first is the section itself, then nested ones, for the
/// reference) and its parser, which fills its part of Config. `needs_access`: refused unless the
/// node also runs the access role, with `why`.
struct ConfigSectionHandler {
  std::string_view name;
  std::span<const SectionSpec* const> specs;
  void (*parse)(Section& s, Config& c, const ConfigEnv& env);
  bool needs_access = false;
  std::string_view why = {};
};

/// Parses the common sections (node, log, store, admin, directory) and then each handler's section
/// when present. Throws ConfigError.
Config parse_config(std::string_view yaml, const std::string& source,
                    std::span<const ConfigSectionHandler> sections);
Config load_config(const std::string& path, std::span<const ConfigSectionHandler> sections);

/// The common sections' tables.
std::span<const SectionSpec* const> common_config_specs();
/// Markdown for `specs` (one table per section).
void write_config_reference(std::ostream& out, std::span<const SectionSpec* const> specs);

}  // namespace mobix
