#include "core/config.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/asio/ip/address.hpp>

#include "core/config_section.hpp"
#include "core/text.hpp"

namespace mobix {

ConfigError::ConfigError(const std::string& file, int line, const std::string& key, const std::string& what)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + key + ": " + what),
      key_(key),
      line_(line) {}

// --- Section ---------------------------------------------------------------------------------------

Section::Section(const YAML::Node& node, std::string path, const std::string& file, const SectionSpec* spec)
    : node_(node), path_(std::move(path)), file_(file), spec_(spec) {
  if (present(node_) && !node_.IsMap()) fail(path_, node_, "must be a mapping");
}

void Section::fail(const std::string& key, const YAML::Node& at, const std::string& what) const {
  int line = present(at) ? at.Mark().line + 1 : (present(node_) ? node_.Mark().line + 1 : 1);
  throw ConfigError(file_, line < 1 ? 1 : line, key, what);
}

const KeySpec& Section::spec_key(const std::string& k) const {
  if (spec_)
    for (const auto& ks : spec_->keys)
      if (ks.key == k) return ks;
  // A programming error, not a user's: every key a parser reads must be in its section's table.
  throw std::logic_error("config key " + key(k) + " is not in its section's table");
}

YAML::Node Section::get(const std::string& k) {
  if (spec_) spec_key(k);
  return get_unlisted(k);
}

YAML::Node Section::get_unlisted(const std::string& k) {
  seen_.insert(k);
  if (!present(node_)) return YAML::Node(YAML::NodeType::Undefined);
  // Const access: yaml-cpp's non-const operator[] would insert the key.
  const YAML::Node& n = node_;
  YAML::Node v = n[k];
  return present(v) ? v : YAML::Node(YAML::NodeType::Undefined);
}

std::optional<std::string> Section::str(const std::string& k) {
  auto n = get(k);
  if (!n) return std::nullopt;
  if (!n.IsScalar()) fail(key(k), n, "must be a string");
  return n.Scalar();
}

std::string Section::str_or_default(const std::string& k) {
  return str(k, std::string(spec_key(k).def));
}

std::string Section::required(const std::string& k) {
  auto v = str(k);
  if (!v || v->empty()) fail(key(k), node_, "is required");
  return *v;
}

std::uint32_t Section::u32(const std::string& k, std::uint32_t def, std::uint32_t min, std::uint32_t max) {
  auto n = get(k);
  if (!n) return def;
  try {
    auto v = n.as<long long>();
    if (v < min || v > max)
      fail(key(k), n, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return static_cast<std::uint32_t>(v);
  } catch (const YAML::Exception&) {
    fail(key(k), n, "must be an integer");
  }
}

std::uint32_t Section::u32(const std::string& k) {
  const auto& ks = spec_key(k);
  auto def = ks.def.empty() ? ks.min : static_cast<std::uint32_t>(std::stoul(std::string(ks.def)));
  return u32(k, def, ks.min, ks.max);
}

bool Section::boolean(const std::string& k, bool def) {
  auto n = get(k);
  if (!n) return def;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    fail(key(k), n, "must be true or false");
  }
}

bool Section::boolean(const std::string& k) {
  return boolean(k, spec_key(k).def == "true");
}

Endpoint Section::endpoint(const std::string& k, const Endpoint& def) {
  auto n = get(k);
  if (!n) return def;
  if (!n.IsScalar()) fail(key(k), n, "must be \"host:port\"");
  auto ep = parse_endpoint(n.Scalar());
  if (!ep) fail(key(k), n, "must be \"host:port\" with a numeric IP, got \"" + n.Scalar() + "\"");
  return *ep;
}

Endpoint Section::endpoint(const std::string& k) {
  const auto& ks = spec_key(k);
  auto def = parse_endpoint(std::string(ks.def));
  if (!def && !get(k)) fail(key(k), node_, "is required");
  return endpoint(k, def.value_or(Endpoint{}));
}

std::string Section::secret(const std::string& k, const std::string& base_dir) {
  auto inline_v = str(k);
  auto file_v = str(k + "_file");
  if (inline_v && file_v) fail(key(k), node_, "give either " + k + " or " + k + "_file, not both");
  if (file_v) {
    std::filesystem::path p(*file_v);
    if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
    std::ifstream in(p);
    if (!in) fail(key(k + "_file"), get(k + "_file"), "cannot read " + p.string());
    std::string s;
    std::getline(in, s);
    if (s.empty()) fail(key(k + "_file"), get(k + "_file"), p.string() + " is empty");
    return s;
  }
  return inline_v.value_or("");
}

std::string Section::existing_file(const std::string& k, const std::string& base_dir) {
  auto v = str(k);
  if (!v || v->empty()) return "";
  std::filesystem::path p(*v);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  if (!std::ifstream(p)) fail(key(k), get(k), "cannot read " + p.string());
  return p.string();
}

std::string Section::mail_address(const std::string& k) {
  auto a = required(k);
  if (a.find('@') == std::string::npos || a.find_first_of("<> \r\n") != std::string::npos)
    fail(key(k), get(k), "must be a plain address like name@domain");
  return a;
}

void Section::check_unknown() const {
  if (!present(node_)) return;
  for (const auto& kv : node_) {
    auto k = kv.first.Scalar();
    if (!seen_.count(k)) fail(key(k), kv.first, "unknown key");
  }
}

void for_each_item(Section& parent, const std::string& k, const SectionSpec* item_spec,
                   const std::function<void(Section&)>& f) {
  auto list = parent.get(k);
  if (!list) return;
  if (!list.IsSequence()) parent.fail(parent.key(k), list, "must be a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Section item(list[i], parent.key(k) + "[" + std::to_string(i) + "]", parent.file(), item_spec);
    f(item);
    item.check_unknown();
  }
}

std::string lower(std::string v) {
  return ascii_lower(std::move(v));
}

// --- the common sections -----------------------------------------------------------------------------

namespace {

constexpr KeySpec kTopKeys[] = {
    {"node", "string", "mobix", "this node's name (logs, metrics)"},
    {"log", "section", "", "logging, see `log`"},
    {"limits", "section", "", "connection caps for every TCP listener, see `limits`"},
    {"store", "section", "", "the embedded store, see `store`"},
    {"admin", "section", "", "the admin listener, see `admin`"},
    {"directory", "section", "", "the subscriber directory, see `directory`"},
};
constexpr SectionSpec kTop{
    "(top level)",
    "Besides these, each role's section (below); the roles a node runs are the sections "
    "present, and the admin listener always runs.",
    kTopKeys};

constexpr KeySpec kLogKeys[] = {
    {"level", "enum", "info", "least severe level logged", 0, 0, "trace|debug|info|warn|error|critical|off"},
    {"format", "enum", "text", "text for people, json for log pipelines", 0, 0, "text|json"},
};
constexpr SectionSpec kLog{"log", "Logging; `--log-level`/`--log-format` on the command line win.", kLogKeys};

constexpr KeySpec kLimitsKeys[] = {
    {"max_connections_per_listener", "u32", "10000", "connections one TCP listener holds at once", 1,
     1000000},
    {"max_connections_per_address", "u32", "256", "connections one client address holds on one listener", 1,
     1000000},
};
constexpr SectionSpec kLimits{
    "limits",
    "Caps for every TCP listener (mail, relay, gateway, admin): over one, a new "
    "connection is closed at once and counted in mobix_tcp_refused_total{service,reason}.",
    kLimitsKeys};

constexpr KeySpec kStoreKeys[] = {
    {"backend", "enum", "sqlite",
     "sqlite: one embedded file (the lab, one node); postgresql: several nodes over one database", 0, 0,
     "sqlite|postgresql"},
    {"path", "string", "mobix.db", "SQLite file; relative to the config file's directory"},
    {"dsn", "secret", "",
     "PostgreSQL connection string (libpq: `host=... dbname=... user=...` or `postgresql://...`); "
     "required for backend postgresql; never logged"},
    {"dsn_file", "file", "", "the connection string from a file (first line) instead of inline"},
    {"pool_size", "u32", "4", "PostgreSQL connections this node keeps (one is the group-commit writer's)", 2,
     256},
    {"connect_timeout", "u32", "5", "seconds per PostgreSQL connection attempt", 1, 120},
    {"job_lease", "u32", "15",
     "seconds a node holds a singleton job (session expiry, RFC 2136 updates, box call-backs) without "
     "renewing; another node takes it over within this after the holder dies",
     2, 600},
    {"prepared_statements", "bool", "true",
     "prepare statements on each PostgreSQL connection; false behind PgBouncer in transaction mode older "
     "than 1.21 (Debian 12 ships 1.18), which cannot keep them (docs/scale-out.md)"},
    {"feed_dsn", "secret", "",
     "the change feed's LISTEN connection needs a session of its own: straight to PostgreSQL when dsn "
     "goes through a transaction-mode pooler; empty: dsn; never logged"},
    {"feed_dsn_file", "file", "", "feed_dsn from a file (first line) instead of inline"},
    {"migrate", "enum", "auto",
     "auto: bring the schema up to date at start (under a lock, so nodes starting together are safe); "
     "manual: refuse to start on an older schema until `mobix store migrate` ran",
     0, 0, "auto|manual"},
};
constexpr SectionSpec kStore{
    "store", "The store (sessions, leases, directory, journals): embedded or shared.", kStoreKeys};

constexpr KeySpec kAdminKeys[] = {
    {"listen", "endpoint", "127.0.0.1:9100", "the admin HTTP listener (/api/v1, /healthz, /metrics)"},
    {"token", "secret", "",
     "required (or token_file, or no_token): /api/v1 requires `Authorization: Bearer <token>`"},
    {"token_file", "file", "", "the token from a file (first line) instead of inline"},
    {"no_token", "bool", "false",
     "true: /api/v1 without a token; only on a loopback listener (a lab, a test); never in production"},
    {"allowed_hosts", "list", "",
     "DNS names the API may be reached by (Host header); addresses and localhost "
     "always; anything else is refused (DNS rebinding)"},
};
constexpr SectionSpec kAdmin{"admin", "The admin listener.", kAdminKeys};

constexpr KeySpec kDirectoryKeys[] = {
    {"backend", "enum", "store", "where subscribers live", 0, 0, "store|ldap"},
    {"ldap", "section", "", "the operator's LDAP, see `directory.ldap` (required for backend ldap)"},
};
constexpr SectionSpec kDirectory{"directory", "The subscriber directory (the spine's second half).",
                                 kDirectoryKeys};

constexpr KeySpec kLdapKeys[] = {
    {"uri", "string", "ldap://127.0.0.1:389", "ldap:// or ldaps:// URIs, several separated by spaces"},
    {"start_tls", "bool", "false", "StartTLS (RFC 4513) on ldap:// URIs"},
    {"ca_file", "file", "", "CA the server's certificate must chain to"},
    {"bind_dn", "string", "", "empty: anonymous bind"},
    {"bind_password", "secret", "", "the bind password"},
    {"bind_password_file", "file", "", "the bind password from a file"},
    {"base_dn", "string", "", "required: where subscriber entries are searched"},
    {"filter", "string", "(objectClass=inetOrgPerson)", "ANDed with (<identity attribute>=<value>)"},
    {"timeout", "u32", "5", "seconds per connect, bind or search", 1, 120},
    {"pool_size", "u32", "4", "connections kept open", 1, 64},
    {"cache_ttl", "u32", "30", "seconds an entry is cached (also dropped at session end)", 0, 3600},
    {"attributes", "map", "", "mobix field (msisdn, imsi, username, mail.address, ...) -> LDAP attribute"},
};
constexpr SectionSpec kLdap{"directory.ldap", "The operator's LDAP directory (seed 000 \"operator LDAP\").",
                            kLdapKeys};

constexpr const SectionSpec* kCommonSpecs[] = {&kTop, &kLog, &kLimits, &kStore, &kAdmin, &kDirectory, &kLdap};

LdapConfig parse_ldap(Section& s, const std::string& base_dir) {
  LdapConfig l;
  l.uri = s.str_or_default("uri");
  for (std::istringstream in(l.uri); in;) {
    std::string u;
    in >> u;
    if (!u.empty() && u.rfind("ldap://", 0) != 0 && u.rfind("ldaps://", 0) != 0)
      s.fail(s.key("uri"), s.get("uri"), "must be ldap:// or ldaps:// URIs, got \"" + u + "\"");
  }
  l.start_tls = s.boolean("start_tls");
  l.ca_file = s.existing_file("ca_file", base_dir);
  l.bind_dn = s.str_or_default("bind_dn");
  l.bind_password = s.secret("bind_password", base_dir);
  l.base_dn = s.required("base_dn");
  l.filter = s.str_or_default("filter");
  if (l.filter.size() < 2 || l.filter.front() != '(' || l.filter.back() != ')')
    s.fail(s.key("filter"), s.get("filter"), "must be an LDAP filter in parentheses (RFC 4515)");
  l.timeout = s.u32("timeout");
  l.pool_size = s.u32("pool_size");
  l.cache_ttl = s.u32("cache_ttl");
  if (auto a = s.get("attributes")) {
    if (!a.IsMap()) s.fail(s.key("attributes"), a, "must map mobix fields to LDAP attribute names");
    for (const auto& kv : a) {
      if (!kv.second.IsScalar() || kv.second.Scalar().empty())
        s.fail(s.key("attributes." + kv.first.Scalar()), kv.second, "must be an LDAP attribute name");
      l.attributes.emplace_back(kv.first.Scalar(), kv.second.Scalar());
    }
  }
  s.check_unknown();
  return l;
}

void parse_common(Section& top, Config& c, const ConfigEnv& env) {
  c.node_name = top.str_or_default("node");

  Section log(top.get("log"), "log", env.source, &kLog);
  c.log.level = log.str_or_default("level");
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!levels.count(c.log.level))
    log.fail("log.level", log.get("level"), "must be one of " + std::string(kLogKeys[0].choices));
  c.log.format = log.choice<LogFormat>("format", {{"text", LogFormat::text}, {"json", LogFormat::json}});
  log.check_unknown();

  Section limits(top.get("limits"), "limits", env.source, &kLimits);
  c.limits.max_connections_per_listener = limits.u32("max_connections_per_listener");
  c.limits.max_connections_per_address = limits.u32("max_connections_per_address");
  limits.check_unknown();

  Section store(top.get("store"), "store", env.source, &kStore);
  c.store.backend = store.choice<StoreBackend>(
      "backend", {{"sqlite", StoreBackend::sqlite}, {"postgresql", StoreBackend::postgresql}});
  c.store.path = store.str_or_default("path");
  if (std::filesystem::path(c.store.path).is_relative())
    c.store.path = (std::filesystem::path(env.base_dir) / c.store.path).string();
  c.store.dsn = store.secret("dsn", env.base_dir);
  c.store.pool_size = store.u32("pool_size");
  c.store.connect_timeout = store.u32("connect_timeout");
  c.store.job_lease = store.u32("job_lease");
  c.store.prepared_statements = store.boolean("prepared_statements");
  c.store.feed_dsn = store.secret("feed_dsn", env.base_dir);
  c.store.migrate = store.choice<StoreMigrate>(
      "migrate", {{"auto", StoreMigrate::automatic}, {"manual", StoreMigrate::manual}});
  if (c.store.backend == StoreBackend::postgresql && c.store.dsn.empty())
    store.fail("store.dsn", store.node(), "is required for backend postgresql (or dsn_file)");
  store.check_unknown();

  Section admin(top.get("admin"), "admin", env.source, &kAdmin);
  c.admin.listen = admin.endpoint("listen");
  c.admin.token = admin.secret("token", env.base_dir);
  c.admin.no_token = admin.boolean("no_token");
  // Security by default (issue 12 item 3): the API changes subscribers and reads sessions.
  if (c.admin.token.empty() && !c.admin.no_token)
    admin.fail("admin.token", admin.node(),
               "is required: give token or token_file (each /api/v1 request then carries `Authorization: "
               "Bearer <token>`), or no_token: true for a lab on loopback");
  if (c.admin.no_token) {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(c.admin.listen.host, ec);
    if (ec || !a.is_loopback())
      admin.fail("admin.no_token", admin.get("no_token"),
                 "is allowed only on a loopback listener, not " + c.admin.listen.host);
  }
  if (auto hosts = admin.get("allowed_hosts")) {
    if (!hosts.IsSequence()) admin.fail("admin.allowed_hosts", hosts, "must be a list of host names");
    for (const auto& h : hosts) {
      if (!h.IsScalar() || h.Scalar().empty()) admin.fail("admin.allowed_hosts", h, "must be a host name");
      c.admin.allowed_hosts.push_back(lower(h.Scalar()));
    }
  }
  admin.check_unknown();

  Section directory(top.get("directory"), "directory", env.source, &kDirectory);
  c.directory.backend = directory.choice<DirectoryBackend>(
      "backend", {{"store", DirectoryBackend::store}, {"ldap", DirectoryBackend::ldap}});
  if (auto n = directory.get("ldap")) {
    Section ldap(n, "directory.ldap", env.source, &kLdap);
    c.directory.ldap = parse_ldap(ldap, env.base_dir);
  }
  if (c.directory.backend == DirectoryBackend::ldap && !c.directory.ldap)
    directory.fail("directory.ldap", directory.node(), "backend ldap needs an ldap: section");
  directory.check_unknown();
}

}  // namespace

std::span<const SectionSpec* const> common_config_specs() {
  return kCommonSpecs;
}

Config parse_config(std::string_view yaml, const std::string& source,
                    std::span<const ConfigSectionHandler> sections) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source, e.mark.line + 1, "(syntax)", e.msg);
  }
  if (!root || root.IsNull()) throw ConfigError(source, 1, "(root)", "the file is empty");
  ConfigEnv env{source, std::filesystem::absolute(source).parent_path().string()};
  Section top(root, "", source, &kTop);
  Config c;
  c.source = source;
  parse_common(top, c, env);
  for (const auto& h : sections) {
    auto n = top.get_unlisted(std::string(h.name));  // documented by the handler's own table
    if (!n) continue;
    Section s(n, std::string(h.name), source, h.specs.front());
    h.parse(s, c, env);
    s.check_unknown();
    if (h.needs_access && !c.access) top.fail(std::string(h.name), n, std::string(h.why));
  }
  top.check_unknown();
  return c;
}

Config load_config(const std::string& path, std::span<const ConfigSectionHandler> sections) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, 1, "(file)", "cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, sections);
}

// --- the reference -----------------------------------------------------------------------------------

namespace {
std::string cell(std::string_view s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}
}  // namespace

void write_config_reference(std::ostream& out, std::span<const SectionSpec* const> specs) {
  for (const auto* s : specs) {
    out << "\n## `" << s->path << "`\n\n" << s->doc << "\n\n";
    out << "| key | type | default | accepted | meaning |\n| --- | --- | --- | --- | --- |\n";
    for (const auto& k : s->keys) {
      std::string accepted;
      if (k.type == "u32") accepted = std::to_string(k.min) + "–" + std::to_string(k.max);
      if (k.type == "enum") accepted = std::string(k.choices);
      out << "| `" << k.key << "` | " << k.type << " | " << (k.def.empty() ? "" : "`" + cell(k.def) + "`")
          << " | " << cell(accepted) << " | " << cell(k.doc) << " |\n";
    }
  }
}

}  // namespace mobix
