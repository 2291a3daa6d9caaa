#include "node/reload.hpp"

#include <optional>
#include <set>

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "node/config_sections.hpp"

namespace mobix {

namespace {

std::string dump(const YAML::Node& n) {
  return n.IsDefined() ? YAML::Dump(n) : std::string("<absent>");
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> keys;
  std::size_t from = 0;
  for (auto dot = path.find('.'); dot != std::string::npos; dot = path.find('.', from)) {
    keys.push_back(path.substr(from, dot - from));
    from = dot + 1;
  }
  keys.push_back(path.substr(from));
  return keys;
}

// Recursion instead of a cursor: assigning to a yaml-cpp Node writes into the tree it refers to.
YAML::Node at_keys(const YAML::Node& n, const std::vector<std::string>& keys, std::size_t i) {
  if (i == keys.size()) return n;
  if (!n.IsDefined() || !n.IsMap() || !n[keys[i]]) return YAML::Node(YAML::NodeType::Undefined);
  return at_keys(n[keys[i]], keys, i + 1);
}

/// What `root` holds at `path` ("access.radius.clients"), or an undefined node.
YAML::Node at(const YAML::Node& root, const std::string& path) {
  return at_keys(root, split_path(path), 0);
}

void remove_keys(YAML::Node n, const std::vector<std::string>& keys, std::size_t i) {
  if (!n.IsMap()) return;
  if (i + 1 == keys.size()) {
    n.remove(keys[i]);
    return;
  }
  if (n[keys[i]]) remove_keys(n[keys[i]], keys, i + 1);
}

/// `root` without the live keys (what must be equal for a reload to need no restart).
YAML::Node without_live_keys(const YAML::Node& root) {
  YAML::Node copy = YAML::Clone(root);
  for (const auto& path : live_config_keys()) remove_keys(copy, split_path(path), 0);
  return copy;
}

/// The paths (up to three levels deep) where `a` and `b` differ.
void differences(const YAML::Node& a, const YAML::Node& b, const std::string& path, int depth,
                 std::vector<std::string>& out) {
  if (dump(a) == dump(b)) return;
  if (depth < 3 && a.IsDefined() && b.IsDefined() && a.IsMap() && b.IsMap()) {
    std::set<std::string> keys;
    for (const auto& kv : a) keys.insert(kv.first.as<std::string>());
    for (const auto& kv : b) keys.insert(kv.first.as<std::string>());
    for (const auto& k : keys) differences(a[k], b[k], path.empty() ? k : path + "." + k, depth + 1, out);
    return;
  }
  out.push_back(path.empty() ? "(the whole file)" : path);
}

}  // namespace

const char* to_string(ReloadResult::Outcome o) {
  switch (o) {
    case ReloadResult::Outcome::applied:
      return "applied";
    case ReloadResult::Outcome::unchanged:
      return "unchanged";
    case ReloadResult::Outcome::needs_restart:
      return "needs_restart";
    case ReloadResult::Outcome::invalid:
      return "invalid";
  }
  return "?";
}

namespace {

// One key applied without a restart: `apply` moves it from `next` into `cur` and returns what it
// applied (for the log and the reply), or nothing when it did not change. `changed` says whether the
// YAML under the key differs.
struct LiveKey {
  const char* path;
  std::optional<std::string> (*apply)(Config& cur, const Config& next, bool changed);
};

// Secrets come from files the YAML only names: the clients are taken every time.
std::optional<std::string> apply_radius_clients(Config& cur, const Config& next, bool changed) {
  if (!cur.access || !next.access) return std::nullopt;
  std::optional<std::string> what;
  if (changed || cur.access->clients.size() != next.access->clients.size())
    what = "access.radius.clients";
  else
    for (std::size_t i = 0; i < cur.access->clients.size() && !what; ++i)
      if (cur.access->clients[i].secret != next.access->clients[i].secret)
        what = "access.radius.clients (secrets)";
  cur.access->clients = next.access->clients;
  return what;
}

std::optional<std::string> apply_mail_access_ranges(Config& cur, const Config& next, bool changed) {
  if (!cur.mail || !next.mail || !changed) return std::nullopt;
  cur.mail->access_ranges = next.mail->access_ranges;
  return "mail.access_ranges";
}

std::optional<std::string> apply_log_level(Config& cur, const Config& next, bool changed) {
  if (!changed) return std::nullopt;
  cur.log.level = next.log.level;
  spdlog::set_level(spdlog::level::from_str(cur.log.level));
  return "log.level";
}

const LiveKey kLiveKeys[] = {
    {"access.radius.clients", apply_radius_clients},
    {"mail.access_ranges", apply_mail_access_ranges},
    {"log.level", apply_log_level},
};

}  // namespace

const std::vector<std::string>& live_config_keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (const auto& live : kLiveKeys) k.emplace_back(live.path);
    return k;
  }();
  return keys;
}

ReloadResult reload_config(Config& cur, std::string& old_yaml, const std::string& new_yaml) {
  ReloadResult r;
  Config next;
  YAML::Node before, after;
  try {
    next = parse_config(new_yaml, cur.source);
    before = YAML::Load(old_yaml);
    after = YAML::Load(new_yaml);
  } catch (const std::exception& e) {  // ConfigError names file, line and key
    r.outcome = ReloadResult::Outcome::invalid;
    r.error = e.what();
    return r;
  }
  differences(without_live_keys(before), without_live_keys(after), "", 0, r.needs_restart);
  for (const auto& live : kLiveKeys) {
    const bool changed = dump(at(before, live.path)) != dump(at(after, live.path));
    if (auto what = live.apply(cur, next, changed)) r.applied.push_back(*what);
  }
  // A change that needs a restart stays pending: the next SIGHUP reports it again.
  if (r.needs_restart.empty()) old_yaml = new_yaml;
  r.outcome = !r.needs_restart.empty() ? ReloadResult::Outcome::needs_restart
              : !r.applied.empty()     ? ReloadResult::Outcome::applied
                                       : ReloadResult::Outcome::unchanged;
  return r;
}

}  // namespace mobix
