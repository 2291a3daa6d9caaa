#include "dns/dns_config.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <boost/asio/ip/address.hpp>

#include "codec/dns/zone.hpp"

namespace mobix {

namespace {

constexpr KeySpec kDnsKeys[] = {
    {"listen", "endpoint", "", "the embedded authoritative server (UDP and TCP); absent: none"},
    {"threads", "u32", "1", "threads answering queries", 1, 64},
    {"ttl", "u32", "60", "seconds, for session records and the SOA minimum", 0, 86400},
    {"zones", "list", "", "required: the zones, see `dns.zones[]`"},
    {"roamers_zone", "string", "",
     "visited side (seed 002 [0029]): visitors' names are also published as "
     "<name>.<this zone>; one of `zones`"},
};
constexpr SectionSpec kDns{"dns", "The dns role (seed 002): zones whose records follow the access sessions.",
                           kDnsKeys};

constexpr KeySpec kZoneKeys[] = {
    {"name", "string", "", "required: the zone's origin"},
    {"primary_ns", "string", "", "SOA MNAME; default ns1.<zone>"},
    {"hostmaster", "string", "", "SOA RNAME; default hostmaster.<zone>"},
    {"records", "list", "", "static records, \"name TYPE value\" with TYPE A, AAAA, NS or PTR"},
    {"update", "section", "", "the zone lives in the operator's DNS server: see `dns.zones[].update`"},
};
constexpr SectionSpec kZone{"dns.zones[]", "One zone: embedded, or updated in the operator's server.",
                            kZoneKeys};

constexpr KeySpec kUpdateKeys[] = {
    {"server", "endpoint", "", "required: host:port of the operator's DNS server (RFC 2136)"},
    {"key_name", "string", "", "required: the TSIG key's name"},
    {"key_secret", "secret", "", "required (or key_secret_file): the TSIG key, base64 (tsig-keygen)"},
    {"key_secret_file", "file", "", "the TSIG key from a file"},
    {"algorithm", "enum", "hmac-sha256", "TSIG algorithm (RFC 8945)", 0, 0,
     "hmac-sha256|hmac-sha384|hmac-sha512"},
    {"batch", "u32", "100", "updates per message", 1, 1000},
    {"timeout_ms", "u32", "2000", "milliseconds for the server's answer", 100, 60000},
};
constexpr SectionSpec kUpdate{"dns.zones[].update", "RFC 2136 + TSIG to the operator's DNS server.",
                              kUpdateKeys};

constexpr const SectionSpec* kSpecs[] = {&kDns, &kZone, &kUpdate};

/// Why a static record cannot be served in zone `origin` (outside the zone, or an A/AAAA value
/// that is not an address of its type), or nullopt when it can.
std::optional<std::string> static_record_error(const DnsZoneConfig::StaticRecord& r,
                                               const std::string& origin) {
  // The zone set's own name rules (codec/dns), so what passes here is what it accepts at start.
  auto name = dns::normalize_name(r.name);
  auto zone = dns::normalize_name(origin);
  if (!name || !zone || !dns::in_zone(*name, *zone)) return "\"" + r.name + "\" is not inside zone " + origin;
  if (r.type == "A" || r.type == "AAAA") {
    boost::system::error_code ec;
    auto a = boost::asio::ip::make_address(r.value, ec);
    if (ec || a.is_v4() != (r.type == "A")) return "\"" + r.value + "\" is not an " + r.type + " address";
  }
  return std::nullopt;
}

DnsUpdateConfig parse_update(Section& u, const ConfigEnv& env) {
  DnsUpdateConfig uc;
  uc.server = u.endpoint("server", Endpoint{});
  if (uc.server.port == 0) u.fail(u.key("server"), u.node(), "is required (host:port of the DNS server)");
  uc.key_name = u.required("key_name");
  uc.key_secret = u.secret("key_secret", env.base_dir);
  if (uc.key_secret.empty())
    u.fail(u.key("key_secret"), u.node(), "a TSIG key is required: updates are always signed (RFC 8945)");
  uc.algorithm = u.str_or_default("algorithm");
  static const std::set<std::string> algs{"hmac-sha256", "hmac-sha384", "hmac-sha512"};
  if (!algs.count(uc.algorithm))
    u.fail(u.key("algorithm"), u.get("algorithm"), "must be hmac-sha256, hmac-sha384 or hmac-sha512");
  uc.batch = u.u32("batch");
  uc.timeout_ms = u.u32("timeout_ms");
  u.check_unknown();
  return uc;
}

DnsZoneConfig parse_zone(Section& z, const ConfigEnv& env) {
  DnsZoneConfig zc;
  zc.name = z.required("name");
  while (!zc.name.empty() && zc.name.back() == '.') zc.name.pop_back();
  zc.primary_ns = z.str_or_default("primary_ns");
  zc.hostmaster = z.str_or_default("hostmaster");
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
    Section u(n, z.key("update"), env.source, &kUpdate);
    zc.update = parse_update(u, env);
  }
  return zc;
}

void parse(Section& s, Config& c, const ConfigEnv& env) {
  DnsConfig d;
  if (s.get("listen")) d.listen = s.endpoint("listen", Endpoint{});
  d.threads = s.u32("threads");
  d.ttl = s.u32("ttl");
  for_each_item(s, "zones", &kZone, [&](Section& z) {
    auto zc = parse_zone(z, env);
    for (const auto& other : d.zones)
      if (lower(other.name) == lower(zc.name)) z.fail(z.key("name"), z.get("name"), "zone given twice");
    d.zones.push_back(std::move(zc));
  });
  if (d.zones.empty()) s.fail(s.key("zones"), s.node(), "at least one zone is required");
  d.roamers_zone = lower(s.str_or_default("roamers_zone"));
  while (!d.roamers_zone.empty() && d.roamers_zone.back() == '.') d.roamers_zone.pop_back();
  if (!d.roamers_zone.empty() && std::none_of(d.zones.begin(), d.zones.end(), [&](const DnsZoneConfig& z) {
        return lower(z.name) == d.roamers_zone;
      }))
    s.fail(s.key("roamers_zone"), s.get("roamers_zone"), "must be one of the zones listed here");
  c.dns = std::move(d);
}

}  // namespace

const ConfigSectionHandler& dns_config_section() {
  static const ConfigSectionHandler h{"dns", kSpecs, parse, true,
                                      "the zones follow the access sessions: configure access too"};
  return h;
}

}  // namespace mobix
