#include "core/config.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>
#include <boost/asio/ip/address.hpp>

namespace mobix {

ConfigError::ConfigError(const std::string& file, int line, const std::string& key, const std::string& what)
    : std::runtime_error(file + ":" + std::to_string(line) + ": " + key + ": " + what),
      key_(key),
      line_(line) {}

namespace {

// Walks a YAML mapping, remembering which keys were read so unknown ones are reported.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, const std::string& file)
      : node_(node), path_(std::move(path)), file_(file) {
    if (present(node_) && !node_.IsMap()) fail(path_, node_, "must be a mapping");
  }

  [[noreturn]] void fail(const std::string& key, const YAML::Node& at, const std::string& what) const {
    int line = present(at) ? at.Mark().line + 1 : (present(node_) ? node_.Mark().line + 1 : 1);
    throw ConfigError(file_, line < 1 ? 1 : line, key, what);
  }

  std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }

  /// The value under `k`, or an undefined node when absent or null. Uses const access:
  /// yaml-cpp's non-const operator[] would insert the key.
  YAML::Node get(const std::string& k) {
    seen_.insert(k);
    if (!present(node_)) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& n = node_;
    YAML::Node v = n[k];
    return present(v) ? v : YAML::Node(YAML::NodeType::Undefined);
  }
  static bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

  std::optional<std::string> str(const std::string& k) {
    auto n = get(k);
    if (!n) return std::nullopt;
    if (!n.IsScalar()) fail(key(k), n, "must be a string");
    return n.Scalar();
  }
  std::string str(const std::string& k, const std::string& def) { return str(k).value_or(def); }
  std::string required(const std::string& k) {
    auto v = str(k);
    if (!v || v->empty()) fail(key(k), node_, "is required");
    return *v;
  }

  std::uint32_t u32(const std::string& k, std::uint32_t def, std::uint32_t min, std::uint32_t max) {
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

  bool boolean(const std::string& k, bool def) {
    auto n = get(k);
    if (!n) return def;
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      fail(key(k), n, "must be true or false");
    }
  }

  Endpoint endpoint(const std::string& k, const Endpoint& def) {
    auto n = get(k);
    if (!n) return def;
    if (!n.IsScalar()) fail(key(k), n, "must be \"host:port\"");
    auto ep = parse_endpoint(n.Scalar());
    if (!ep) fail(key(k), n, "must be \"host:port\" with a numeric IP, got \"" + n.Scalar() + "\"");
    return *ep;
  }

  /// Reads a secret given inline (`<k>`) or from a file (`<k>_file`, relative to the config).
  std::string secret(const std::string& k, const std::string& base_dir) {
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

  void check_unknown() const {
    if (!present(node_)) return;
    for (const auto& kv : node_) {
      auto k = kv.first.Scalar();
      if (!seen_.count(k)) fail(key(k), kv.first, "unknown key");
    }
  }

  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }

 private:
  YAML::Node node_;
  std::string path_;
  const std::string& file_;
  std::set<std::string> seen_;
};

template <typename F>
void for_each_item(Section& parent, const std::string& k, const std::string& file, F&& f) {
  auto list = parent.get(k);
  if (!list) return;
  if (!list.IsSequence()) parent.fail(parent.key(k), list, "must be a list");
  for (std::size_t i = 0; i < list.size(); ++i) {
    Section item(list[i], parent.key(k) + "[" + std::to_string(i) + "]", file);
    f(item);
    item.check_unknown();
  }
}

AccessConfig parse_access(Section& s, const std::string& file, const std::string& base_dir) {
  AccessConfig a;
  Section radius(s.get("radius"), s.key("radius"), file);
  a.auth_listen = radius.endpoint("auth_listen", a.auth_listen);
  a.acct_listen = radius.endpoint("acct_listen", a.acct_listen);
  a.require_message_authenticator = radius.boolean("require_message_authenticator", true);
  a.interim_interval = radius.u32("interim_interval", a.interim_interval, 10, 86400);
  a.missed_interims = radius.u32("missed_interims", a.missed_interims, 1, 100);
  a.offer_timeout = radius.u32("offer_timeout", a.offer_timeout, 1, 3600);
  a.duplicate_cache_seconds = radius.u32("duplicate_cache_seconds", a.duplicate_cache_seconds, 1, 600);
  for_each_item(radius, "clients", file, [&](Section& c) {
    RadiusClientConfig rc;
    rc.name = c.required("name");
    auto net = c.required("address");
    auto cidr = Cidr::parse(net);
    if (!cidr)
      c.fail(c.key("address"), c.get("address"), "must be an IP address or CIDR, got \"" + net + "\"");
    rc.network = *cidr;
    rc.secret = c.secret("secret", base_dir);
    if (rc.secret.size() < 8) c.fail(c.key("secret"), c.node(), "must be at least 8 characters");
    a.clients.push_back(std::move(rc));
  });
  radius.check_unknown();
  for_each_item(s, "pools", file, [&](Section& p) {
    PoolConfig pc;
    pc.name = p.required("name");
    auto range = p.required("range");
    auto dash = range.find('-');
    boost::system::error_code ec1, ec2;
    if (dash == std::string::npos) {
      auto cidr = Cidr::parse(range);
      if (!cidr || !cidr->network.is_v4() || cidr->prefix > 30)
        p.fail(p.key("range"), p.get("range"), "must be an IPv4 CIDR of /30 or wider, or \"first-last\"");
      auto base = cidr->network.to_v4().to_uint();
      auto size = 1u << (32 - cidr->prefix);
      pc.first = boost::asio::ip::address_v4(base + 1).to_string();
      pc.last = boost::asio::ip::address_v4(base + size - 2).to_string();
    } else {
      auto f = boost::asio::ip::make_address_v4(range.substr(0, dash), ec1);
      auto l = boost::asio::ip::make_address_v4(range.substr(dash + 1), ec2);
      if (ec1 || ec2 || f.to_uint() > l.to_uint())
        p.fail(p.key("range"), p.get("range"), "must be \"first-last\" with IPv4 addresses in order");
      pc.first = f.to_string();
      pc.last = l.to_string();
    }
    pc.apn = p.str("apn", "");
    pc.realm = p.str("realm", "");
    a.pools.push_back(std::move(pc));
  });
  s.check_unknown();
  if (a.clients.empty()) s.fail(s.key("radius.clients"), s.node(), "at least one RADIUS client is required");
  return a;
}

// A path relative to the config file's directory; it must name a readable file.
std::string lower(std::string v) {
  return ascii_lower(std::move(v));
}

std::string existing_file(Section& s, const std::string& k, const std::string& base_dir) {
  auto v = s.str(k);
  if (!v || v->empty()) return "";
  std::filesystem::path p(*v);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  if (!std::ifstream(p)) s.fail(s.key(k), s.get(k), "cannot read " + p.string());
  return p.string();
}

LdapConfig parse_ldap(Section& s, const std::string& base_dir) {
  LdapConfig l;
  l.uri = s.str("uri", l.uri);
  for (std::istringstream in(l.uri); in;) {
    std::string u;
    in >> u;
    if (!u.empty() && u.rfind("ldap://", 0) != 0 && u.rfind("ldaps://", 0) != 0)
      s.fail(s.key("uri"), s.get("uri"), "must be ldap:// or ldaps:// URIs, got \"" + u + "\"");
  }
  l.start_tls = s.boolean("start_tls", false);
  l.ca_file = existing_file(s, "ca_file", base_dir);
  l.bind_dn = s.str("bind_dn", "");
  l.bind_password = s.secret("bind_password", base_dir);
  l.base_dn = s.required("base_dn");
  l.filter = s.str("filter", l.filter);
  if (l.filter.size() < 2 || l.filter.front() != '(' || l.filter.back() != ')')
    s.fail(s.key("filter"), s.get("filter"), "must be an LDAP filter in parentheses (RFC 4515)");
  l.timeout = s.u32("timeout", l.timeout, 1, 120);
  l.pool_size = s.u32("pool_size", l.pool_size, 1, 64);
  l.cache_ttl = s.u32("cache_ttl", l.cache_ttl, 0, 3600);
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

SignalKeyConfig parse_signal_key(Section& s, const std::string& base_dir) {
  SignalKeyConfig k;
  k.id = static_cast<std::uint8_t>(s.u32("id", 1, 0, 255));
  k.key_hex = s.secret("key", base_dir);
  if (k.key_hex.size() != 64 || k.key_hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    s.fail(s.key("key"), s.node(), "must be 64 hex digits (32 octets): openssl rand -hex 32");
  s.check_unknown();
  return k;
}

SmppClientConfig parse_smpp_client(Section& s, const std::string& base_dir) {
  SmppClientConfig c;
  c.smsc = s.endpoint("smsc", c.smsc);
  c.system_id = s.required("system_id");
  if (c.system_id.size() > 15)
    s.fail(s.key("system_id"), s.get("system_id"), "at most 15 characters (SMPP 3.4)");
  c.password = s.secret("password", base_dir);
  if (c.password.size() > 8) s.fail(s.key("password"), s.node(), "at most 8 characters (SMPP 3.4)");
  s.check_unknown();
  return c;
}

// A bare mailbox for SMTP envelopes: it goes into MAIL FROM / RCPT TO as is.
std::string mail_address(Section& s, const std::string& k) {
  auto a = s.required(k);
  if (a.find('@') == std::string::npos || a.find_first_of("<> \r\n") != std::string::npos)
    s.fail(s.key(k), s.get(k), "must be a plain address like name@domain");
  return a;
}

RelayConfig parse_relay(Section& s, const std::string& file, const std::string& base_dir) {
  RelayConfig r;
  r.public_listen = s.endpoint("public_listen", r.public_listen);
  r.callback_listen = s.endpoint("callback_listen", r.callback_listen);
  r.callback_address = s.str("callback_address", r.callback_listen.host);
  boost::system::error_code ec;
  boost::asio::ip::make_address(r.callback_address, ec);
  if (ec || r.callback_address == "0.0.0.0" || r.callback_address == "::")
    s.fail(s.key("callback_address"), s.get("callback_address"), "must be the relay's reachable IP address");
  r.tls_cert_file = existing_file(s, "tls_cert_file", base_dir);
  r.tls_key_file = existing_file(s, "tls_key_file", base_dir);
  if (r.tls_cert_file.empty() || r.tls_key_file.empty())
    s.fail(s.key("tls_cert_file"), s.node(), "the callback port needs tls_cert_file and tls_key_file");
  Section key(s.get("signal_key"), s.key("signal_key"), file);
  r.signal_key = parse_signal_key(key, base_dir);
  r.channel = s.str("channel", r.channel);
  if (r.channel == "smpp") {
    Section smpp(s.get("smpp"), s.key("smpp"), file);
    r.smpp = parse_smpp_client(smpp, base_dir);
    r.gateway_msisdn = s.required("gateway_msisdn");
  } else if (r.channel == "webhook") {
    r.webhook_url = s.required("webhook_url");
    if (r.webhook_url.rfind("https://", 0) != 0)
      s.fail(s.key("webhook_url"), s.get("webhook_url"), "must be an https:// URL (the webhook is TLS-only)");
    r.webhook_ca_file = existing_file(s, "webhook_ca_file", base_dir);
  } else if (r.channel == "email") {
    Section m(s.get("email"), s.key("email"), file);
    if (!Section::present(s.get("email")))
      s.fail(s.key("email"), s.node(), "channel email needs an email section");
    r.email.smtp = m.endpoint("smtp", r.email.smtp);
    r.email.tls = m.str("tls", r.email.tls);
    if (r.email.tls != "starttls" && r.email.tls != "tls" && r.email.tls != "none")
      m.fail(m.key("tls"), m.get("tls"), "must be starttls, tls or none");
    r.email.ca_file = existing_file(m, "ca_file", base_dir);
    r.email.from = mail_address(m, "from");
    r.email.to = mail_address(m, "to");
    r.email.username = m.str("username", "");
    if (!r.email.username.empty()) {
      r.email.password = m.secret("password", base_dir);
      if (r.email.tls == "none")
        m.fail(m.key("username"), m.get("username"), "AUTH only over TLS: set tls to starttls or tls");
    }
    m.check_unknown();
  } else {
    s.fail(s.key("channel"), s.get("channel"), "must be smpp, webhook or email");
  }
  for_each_item(s, "port_map", file, [&](Section& m) {
    RelayPortMap pm;
    pm.listen = m.endpoint("listen", pm.listen);
    if (!m.get("listen") || pm.listen.port == 0)
      m.fail(m.key("listen"), m.get("listen"), "needs a fixed port");
    pm.hostname = m.required("hostname");
    pm.target_port = static_cast<std::uint16_t>(m.u32("target_port", 0, 1, 65535));
    if (pm.target_port == 0)
      m.fail(m.key("target_port"), m.node(), "is required (the service's port on the terminal)");
    r.port_map.push_back(pm);
  });
  r.callback_encryption = s.str("callback_encryption", r.callback_encryption);
  if (r.callback_encryption != "auto" && r.callback_encryption != "always")
    s.fail(s.key("callback_encryption"), s.get("callback_encryption"), "must be auto or always");
  r.hold_timeout = s.u32("hold_timeout", r.hold_timeout, 1, 120);
  r.max_pending_per_client_ip = s.u32("max_pending_per_client_ip", r.max_pending_per_client_ip, 1, 10000);
  r.max_pending_per_target = s.u32("max_pending_per_target", r.max_pending_per_target, 1, 10000);
  s.check_unknown();
  return r;
}

GatewayConfig parse_gateway(Section& s, const std::string& file, const std::string& base_dir) {
  GatewayConfig g;
  if (auto n = s.get("smpp")) {
    Section smpp(n, s.key("smpp"), file);
    g.smpp = parse_smpp_client(smpp, base_dir);
    g.address_range = s.required("address_range");
  }
  if (s.get("webhook_listen")) {
    g.webhook_listen = s.endpoint("webhook_listen", Endpoint{});
    g.webhook_cert_file = existing_file(s, "webhook_cert_file", base_dir);
    g.webhook_key_file = existing_file(s, "webhook_key_file", base_dir);
    if (g.webhook_cert_file.empty() || g.webhook_key_file.empty())
      s.fail(s.key("webhook_listen"), s.node(),
             "the webhook is HTTPS: give webhook_cert_file and webhook_key_file");
  }
  if (auto n = s.get("email")) {
    Section m(n, s.key("email"), file);
    GatewayEmailConfig e;
    if (!m.get("listen")) m.fail(m.key("listen"), m.node(), "is required (host:port of the SMTP receiver)");
    e.listen = m.endpoint("listen", Endpoint{});
    e.address = mail_address(m, "address");
    e.tls_cert_file = existing_file(m, "tls_cert_file", base_dir);
    e.tls_key_file = existing_file(m, "tls_key_file", base_dir);
    if (e.tls_cert_file.empty() != e.tls_key_file.empty())
      m.fail(m.key("tls_cert_file"), m.node(), "STARTTLS needs both tls_cert_file and tls_key_file");
    m.check_unknown();
    g.email = e;
  }
  if (!g.smpp && !g.webhook_listen && !g.email)
    s.fail(s.key("smpp"), s.node(), "give smpp (SMS), webhook_listen (HTTPS) or email (SMTP)");
  for_each_item(s, "signal_keys", file,
                [&](Section& k) { g.signal_keys.push_back(parse_signal_key(k, base_dir)); });
  if (g.signal_keys.empty()) s.fail(s.key("signal_keys"), s.node(), "at least one signal key is required");
  g.relay_ca_file = existing_file(s, "relay_ca_file", base_dir);
  if (g.relay_ca_file.empty())
    s.fail(s.key("relay_ca_file"), s.node(), "the relay's CA is required (TLS is verified)");
  g.connect_timeout = s.u32("connect_timeout", g.connect_timeout, 1, 60);
  g.max_signal_lifetime = s.u32("max_signal_lifetime", g.max_signal_lifetime, 10, 3600);
  s.check_unknown();
  return g;
}

RoamingConfig parse_roaming(Section& s, const std::string& file, const std::string& base_dir) {
  RoamingConfig r;
  auto realms = s.get("realms");
  if (!realms || !realms.IsSequence() || realms.size() == 0)
    s.fail(s.key("realms"), realms, "a list of our own subscribers' realms is required");
  for (std::size_t i = 0; i < realms.size(); ++i) r.realms.push_back(lower(realms[i].as<std::string>()));
  if (s.get("radsec_listen")) r.radsec_listen = s.endpoint("radsec_listen", Endpoint{});
  r.tls_cert_file = existing_file(s, "tls_cert_file", base_dir);
  r.tls_key_file = existing_file(s, "tls_key_file", base_dir);
  r.ca_file = existing_file(s, "ca_file", base_dir);
  if (r.tls_cert_file.empty() || r.tls_key_file.empty() || r.ca_file.empty())
    s.fail(s.key("tls_cert_file"), s.node(),
           "RadSec is mutually authenticated: give tls_cert_file, tls_key_file and ca_file");
  r.timeout = s.u32("timeout", r.timeout, 1, 60);
  for_each_item(s, "partners", file, [&](Section& p) {
    RoamingPartnerConfig pc;
    pc.name = p.required("name");
    pc.realm = lower(p.required("realm"));
    pc.certificate_name = lower(p.str("certificate_name", ""));
    pc.certificate_sha256 = lower(p.str("certificate_sha256", ""));
    std::erase(pc.certificate_sha256, ':');
    if (pc.certificate_name.empty() && pc.certificate_sha256.empty())
      p.fail(p.key("certificate_name"), p.node(),
             "pin the partner: give certificate_name or certificate_sha256");
    if (!pc.certificate_sha256.empty() && pc.certificate_sha256.size() != 64)
      p.fail(p.key("certificate_sha256"), p.get("certificate_sha256"), "must be 64 hex digits");
    if (p.get("server")) pc.server = p.endpoint("server", Endpoint{});
    for (const auto& o : r.realms)
      if (o == pc.realm) p.fail(p.key("realm"), p.get("realm"), "is one of our own realms");
    r.partners.push_back(pc);
  });
  s.check_unknown();
  return r;
}

/// Why a static record cannot be served in zone `origin` (outside the zone, or an A/AAAA value
/// that is not an address of its type), or nullopt when it can.
std::optional<std::string> static_record_error(const DnsZoneConfig::StaticRecord& r,
                                               const std::string& origin) {
  auto name = lower(r.name);
  while (!name.empty() && name.back() == '.') name.pop_back();
  auto zone = lower(origin);
  if (name != zone && !(name.size() > zone.size() && name.ends_with("." + zone)))
    return "\"" + r.name + "\" is not inside zone " + origin;
  if (r.type == "A" || r.type == "AAAA") {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(r.value, ec);
    if (ec || a.is_v4() != (r.type == "A")) return "\"" + r.value + "\" is not an " + r.type + " address";
  }
  return std::nullopt;
}

DnsConfig parse_dns(Section& s, const std::string& file, const std::string& base_dir) {
  DnsConfig d;
  if (s.get("listen")) d.listen = s.endpoint("listen", Endpoint{});
  d.threads = s.u32("threads", d.threads, 1, 64);
  d.ttl = s.u32("ttl", d.ttl, 0, 86400);
  for_each_item(s, "zones", file, [&](Section& z) {
    DnsZoneConfig zc;
    zc.name = z.required("name");
    while (!zc.name.empty() && zc.name.back() == '.') zc.name.pop_back();
    zc.primary_ns = z.str("primary_ns", "");
    zc.hostmaster = z.str("hostmaster", "");
    auto recs = z.get("records");
    if (recs && !recs.IsSequence()) z.fail(z.key("records"), recs, "must be a list of \"name TYPE value\"");
    for (std::size_t i = 0; recs && i < recs.size(); ++i) {
      std::istringstream in(recs[i].IsScalar() ? recs[i].Scalar() : "");
      DnsZoneConfig::StaticRecord r;
      in >> r.name >> r.type >> r.value;
      static const std::set<std::string> types{"A", "AAAA", "NS", "PTR"};
      if (r.value.empty() || !types.count(r.type))
        z.fail(z.key("records[" + std::to_string(i) + "]"), recs[i],
               "must be \"name TYPE value\" with TYPE one of A, AAAA, NS, PTR");
      r.name = r.name == "@" ? zc.name : (r.name.back() == '.' ? r.name : r.name + "." + zc.name);
      // Everything the embedded zone set would refuse at start is refused here, with its line.
      if (auto why = static_record_error(r, zc.name))
        z.fail(z.key("records[" + std::to_string(i) + "]"), recs[i], *why);
      zc.records.push_back(r);
    }
    if (auto n = z.get("update")) {
      Section u(n, z.key("update"), file);
      DnsUpdateConfig uc;
      uc.server = u.endpoint("server", Endpoint{});
      if (uc.server.port == 0) u.fail(u.key("server"), u.node(), "is required (host:port of the DNS server)");
      uc.key_name = u.required("key_name");
      uc.key_secret = u.secret("key_secret", base_dir);
      if (uc.key_secret.empty())
        u.fail(u.key("key_secret"), u.node(), "a TSIG key is required: updates are always signed (RFC 8945)");
      uc.algorithm = u.str("algorithm", uc.algorithm);
      static const std::set<std::string> algs{"hmac-sha256", "hmac-sha384", "hmac-sha512"};
      if (!algs.count(uc.algorithm))
        u.fail(u.key("algorithm"), u.get("algorithm"), "must be hmac-sha256, hmac-sha384 or hmac-sha512");
      uc.batch = u.u32("batch", uc.batch, 1, 1000);
      uc.timeout_ms = u.u32("timeout_ms", uc.timeout_ms, 100, 60000);
      u.check_unknown();
      zc.update = uc;
    }
    for (const auto& other : d.zones)
      if (lower(other.name) == lower(zc.name)) z.fail(z.key("name"), z.get("name"), "zone given twice");
    d.zones.push_back(zc);
  });
  if (d.zones.empty()) s.fail(s.key("zones"), s.node(), "at least one zone is required");
  d.roamers_zone = lower(s.str("roamers_zone", ""));
  while (!d.roamers_zone.empty() && d.roamers_zone.back() == '.') d.roamers_zone.pop_back();
  if (!d.roamers_zone.empty() && std::none_of(d.zones.begin(), d.zones.end(), [&](const DnsZoneConfig& z) {
        return lower(z.name) == d.roamers_zone;
      }))
    s.fail(s.key("roamers_zone"), s.get("roamers_zone"), "must be one of the zones listed here");
  s.check_unknown();
  return d;
}

MailConfig parse_mail(Section& s, const std::string& base_dir) {
  MailConfig m;
  if (s.get("pop3_listen")) m.pop3_listen = s.endpoint("pop3_listen", Endpoint{});
  if (s.get("smtp_listen")) m.smtp_listen = s.endpoint("smtp_listen", Endpoint{});
  if (s.get("imap_listen")) m.imap_listen = s.endpoint("imap_listen", Endpoint{});
  if (!m.pop3_listen && !m.smtp_listen && !m.imap_listen)
    s.fail(s.key("pop3_listen"), s.node(), "give at least one of pop3_listen, imap_listen, smtp_listen");
  m.max_message_size = s.u32("max_message_size", m.max_message_size, 1024, 1u << 30);
  m.upstream_timeout = s.u32("upstream_timeout", m.upstream_timeout, 1, 300);
  m.idle_timeout = s.u32("idle_timeout", m.idle_timeout, 10, 86400);
  m.session_timeout = s.u32("session_timeout", m.session_timeout, 1, 7 * 86400);
  m.max_failures_per_minute = s.u32("max_failures_per_minute", m.max_failures_per_minute, 1, 100000);
  m.upstream_ca_file = existing_file(s, "upstream_ca_file", base_dir);
  auto ranges = s.get("access_ranges");
  if (!ranges || !ranges.IsSequence() || ranges.size() == 0)
    s.fail(s.key("access_ranges"), ranges, "a list of the access network's address ranges is required");
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    auto c = ranges[i].IsScalar() ? Cidr::parse(ranges[i].Scalar()) : std::nullopt;
    if (!c)
      s.fail(s.key("access_ranges[" + std::to_string(i) + "]"), ranges[i], "must be an IP address or CIDR");
    m.access_ranges.push_back(*c);
  }
  s.check_unknown();
  return m;
}

}  // namespace

Config parse_config(std::string_view yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source, e.mark.line + 1, "(syntax)", e.msg);
  }
  if (!root || root.IsNull()) throw ConfigError(source, 1, "(root)", "the file is empty");
  auto base_dir = std::filesystem::absolute(source).parent_path().string();
  Section top(root, "", source);
  Config c;
  c.source = source;
  c.node_name = top.str("node", c.node_name);

  Section log(top.get("log"), "log", source);
  c.log.level = log.str("level", c.log.level);
  static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error", "critical", "off"};
  if (!levels.count(c.log.level))
    log.fail("log.level", log.get("level"), "must be one of trace, debug, info, warn, error, critical, off");
  c.log.format = log.str("format", c.log.format);
  if (c.log.format != "text" && c.log.format != "json")
    log.fail("log.format", log.get("format"), "must be text or json");
  log.check_unknown();

  Section store(top.get("store"), "store", source);
  c.store.path = store.str("path", c.store.path);
  if (std::filesystem::path(c.store.path).is_relative())
    c.store.path = (std::filesystem::path(base_dir) / c.store.path).string();
  store.check_unknown();

  Section admin(top.get("admin"), "admin", source);
  c.admin.listen = admin.endpoint("listen", c.admin.listen);
  c.admin.token = admin.secret("token", base_dir);
  admin.check_unknown();

  Section directory(top.get("directory"), "directory", source);
  c.directory.backend = directory.str("backend", c.directory.backend);
  if (c.directory.backend != "store" && c.directory.backend != "ldap")
    directory.fail("directory.backend", directory.get("backend"), "must be store or ldap");
  if (auto n = directory.get("ldap")) {
    Section ldap(n, "directory.ldap", source);
    c.directory.ldap = parse_ldap(ldap, base_dir);
  }
  if (c.directory.backend == "ldap" && !c.directory.ldap)
    directory.fail("directory.ldap", directory.node(), "backend ldap needs an ldap: section");
  directory.check_unknown();

  if (auto n = top.get("access")) {
    Section access(n, "access", source);
    c.access = parse_access(access, source, base_dir);
  }
  if (auto n = top.get("relay")) {
    Section relay(n, "relay", source);
    c.relay = parse_relay(relay, source, base_dir);
  }
  if (auto n = top.get("gateway")) {
    Section gateway(n, "gateway", source);
    c.gateway = parse_gateway(gateway, source, base_dir);
    if (!c.access)
      top.fail("gateway", n, "the gateway finds terminals through the access role: configure access too");
  }
  if (auto n = top.get("roaming")) {
    Section roaming(n, "roaming", source);
    c.roaming = parse_roaming(roaming, source, base_dir);
    if (!c.access) top.fail("roaming", n, "roaming is part of the access role: configure access too");
  }
  if (auto n = top.get("dns")) {
    Section dns(n, "dns", source);
    c.dns = parse_dns(dns, source, base_dir);
    if (!c.access) top.fail("dns", n, "the zones follow the access sessions: configure access too");
  }
  if (auto n = top.get("mail")) {
    Section mail(n, "mail", source);
    c.mail = parse_mail(mail, base_dir);
    if (!c.access)
      top.fail("mail", n, "the mail role identifies handsets through the access role: configure access too");
  }
  top.check_unknown();
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path, 1, "(file)", "cannot open the config file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace mobix
