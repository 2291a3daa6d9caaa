#include "telephony/telephony_config.hpp"

#include "codec/mip/mip.hpp"

namespace mobix {

namespace {

constexpr KeySpec kKerberosKeys[] = {
    {"realm", "string", "", "required: the devices' realm; a device is \"<identity code>@<realm>\""},
    {"config", "file", "", "required: the krb5.conf naming the realm's KDCs (set for the whole process)"},
    {"rcache_dir", "string", "",
     "directory of the acceptors' replay caches (relative to this file); default: the library's"},
};
constexpr SectionSpec kKerberos{
    "kerberos", "Seed 003's Kerberos realm (MIT Kerberos), for every role of this node.", kKerberosKeys};
constexpr const SectionSpec* kKerberosSpecs[] = {&kKerberos};

constexpr KeySpec kInitDbKeys[] = {
    {"listen", "endpoint", "127.0.0.1:8449",
     "HTTPS; the mobility manager fetches initiating information here"},
    {"cert", "file", "", "required: its TLS certificate chain (PEM)"},
    {"key", "file", "", "required: its private key"},
    {"keytab", "file", "", "required: the key of HTTP/<its host name>@<realm>"},
    {"home_agent", "endpoint", "", "required: the Home Agent the devices register with (UDP host:port)"},
    {"home_agent_address", "string", "", "the Home Agent address in requests; default: home_agent's host"},
    {"per_source_per_minute", "u32", "600", "requests per client address and minute", 1, 1000000},
    {"per_source_burst", "u32", "60", "requests a client may send at once", 1, 100000},
};
constexpr SectionSpec kInitDb{"initiating_db",
                              "The initiating database (seed 003): a device's initiating information, served "
                              "over HTTPS only to the device's own Kerberos principal (SPNEGO).",
                              kInitDbKeys};
constexpr const SectionSpec* kInitDbSpecs[] = {&kInitDb};

constexpr KeySpec kMmKeys[] = {
    {"listen", "endpoint", "127.0.0.1:8450", "base stations report devices switched on and off here (HTTP)"},
    {"base_stations", "list", "", "required: the base stations' address ranges; nobody else may report"},
    {"keytab", "file", "",
     "required: the devices' keys (principal \"<identity code>@<realm>\"): a keytab, or a directory of "
     "keytabs; read at start and again within a second of a change"},
    {"initiating_db", "endpoint", "", "required: the initiating database (HTTPS host:port)"},
    {"initiating_db_host", "string", "", "its name (TLS and the HTTP@<host> service); default: its host"},
    {"ca", "file", "", "required: the CA that signed the initiating database's certificate"},
    {"device_timeout", "u32", "300", "seconds without a report before a device's proxy stops", 5, 86400},
    {"mip_lifetime", "u32", "600", "seconds of Mobile IP registration asked for", 4, 65534},
    {"bootstrap_threads", "u32", "4", "Kerberos exchanges in parallel (each blocks on the KDC)", 1, 64},
    {"bootstraps_in_flight", "u32", "32",
     "devices bootstrapping at once (tickets, initiating information, Mobile IP); the others wait in "
     "switch-on order, state \"queued\"",
     1, 100000},
    {"retry_max", "u32", "60", "seconds between bootstrap attempts at most (backing off from 1 s)", 1, 3600},
    {"billing", "endpoint", "", "the billing service (HTTPS host:port); absent: calls are not charged"},
    {"billing_host", "string", "", "its name (TLS and the HTTP@<host> service); default: its host"},
    {"sip_listen", "endpoint", "",
     "secure calls between represented devices (SIP over UDP and TCP on this port, Kerberos-keyed SRTP); "
     "absent: no calls"},
    {"sip_tls_listen", "endpoint", "",
     "SIP over TLS for the phones (RFC 3261 26.2: the SDES keys of their media legs are then never in "
     "clear); needs sip_listen, sip_tls_cert and sip_tls_key; absent: no TLS"},
    {"sip_tls_cert", "file", "", "the certificate chain (PEM) SIP over TLS presents"},
    {"sip_tls_key", "file", "", "its private key (PEM)"},
    {"sip_peer", "endpoint", "",
     "where INVITEs for devices not represented here go (another mobility manager); absent: nowhere"},
    {"max_calls", "u32", "1000",
     "call legs in progress at once (a call between two devices here is two legs, three or four with "
     "their own phones; beyond: 503 too_many_calls)",
     1, 1000000},
    {"max_call_seconds", "u32", "14400", "a call longer than this is hung up", 1, 86400},
    {"sip_per_source_per_minute", "u32", "600", "INVITEs per source address and minute", 1, 1000000},
    {"sip_per_source_burst", "u32", "60", "INVITEs a source may send at once", 1, 100000},
    {"sip_tcp_idle_seconds", "u32", "600",
     "a SIP connection with nothing sent for this long is closed (a phone registered over it re-registers "
     "sooner)",
     10, 86400},
    {"sip_t1_ms", "u32", "500",
     "SIP's round-trip estimate T1 (RFC 3261 17.1.1.1): retransmissions start at T1, and a transaction or "
     "an answer without ACK is given up after 64*T1; raise it on slow links, lower it only where every "
     "peer is near",
     50, 10000},
};
constexpr SectionSpec kMm{
    "mobility_manager",
    "The mobility manager (seed 003's proxy manager): bootstraps devices with Kerberos and "
    "represents them on the IP network (Mobile IP).",
    kMmKeys};
constexpr const SectionSpec* kMmSpecs[] = {&kMm};

constexpr KeySpec kBillingKeys[] = {
    {"listen", "endpoint", "127.0.0.1:8451", "HTTPS; devices' proxies post charges here"},
    {"cert", "file", "", "required: its TLS certificate chain (PEM)"},
    {"key", "file", "", "required: its private key"},
    {"keytab", "file", "", "required: the key of HTTP/<its host name>@<realm>"},
    {"per_source_per_minute", "u32", "6000", "requests per client address and minute", 1, 1000000},
    {"per_source_burst", "u32", "200", "requests a client may send at once", 1, 100000},
};
constexpr SectionSpec kBilling{
    "billing",
    "The billing service (seed 003 claims 2-3): charges bound to the Kerberos principal "
    "that posted them, durable before acknowledged, a retried post one charge.",
    kBillingKeys};
constexpr const SectionSpec* kBillingSpecs[] = {&kBilling};

void parse_kerberos(Section& s, Config& c, const ConfigEnv& env) {
  KerberosConfig k;
  k.realm = s.required("realm");
  k.config_file = s.existing_file("config", env.base_dir);
  if (k.config_file.empty()) s.fail(s.key("config"), s.node(), "is required (the realm's krb5.conf)");
  k.rcache_dir = s.str_or_default("rcache_dir");
  if (!k.rcache_dir.empty() && k.rcache_dir.front() != '/') k.rcache_dir = env.base_dir + "/" + k.rcache_dir;
  c.kerberos = k;
}

std::string required_file(Section& s, const std::string& k, const ConfigEnv& env) {
  auto f = s.existing_file(k, env.base_dir);
  if (f.empty()) s.fail(s.key(k), s.node(), "is required");
  return f;
}

void need_kerberos(Section& s, const Config& c) {
  if (!c.kerberos) s.fail(s.path(), s.node(), "needs the kerberos section (the realm and its krb5.conf)");
}

void parse_initiating_db(Section& s, Config& c, const ConfigEnv& env) {
  need_kerberos(s, c);
  InitiatingDbConfig d;
  d.listen = s.endpoint("listen");
  d.cert_file = required_file(s, "cert", env);
  d.key_file = required_file(s, "key", env);
  d.keytab = required_file(s, "keytab", env);
  d.home_agent = s.endpoint("home_agent", Endpoint{"", 0});
  if (d.home_agent.port == 0)
    s.fail(s.key("home_agent"), s.node(), "is required (host:port of the Home Agent)");
  d.home_agent_address = s.str_or_default("home_agent_address");
  if (d.home_agent_address.empty()) d.home_agent_address = d.home_agent.host;
  if (!mip::ipv4_from_string(d.home_agent_address))
    s.fail(s.key("home_agent_address"), s.get("home_agent_address"), "must be an IPv4 address");
  d.per_source_per_minute = s.u32("per_source_per_minute");
  d.per_source_burst = s.u32("per_source_burst");
  c.initiating_db = d;
}

void parse_mobility_manager(Section& s, Config& c, const ConfigEnv& env) {
  need_kerberos(s, c);
  MobilityManagerConfig m;
  m.listen = s.endpoint("listen");
  auto ranges = s.get("base_stations");
  if (!ranges || !ranges.IsSequence() || ranges.size() == 0)
    s.fail(s.key("base_stations"), ranges, "a list of the base stations' address ranges is required");
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    auto r = ranges[i].IsScalar() ? Cidr::parse(ranges[i].Scalar()) : std::nullopt;
    if (!r)
      s.fail(s.key("base_stations[" + std::to_string(i) + "]"), ranges[i], "must be an IP address or CIDR");
    m.base_stations.push_back(*r);
  }
  m.keytab = required_file(s, "keytab", env);
  m.initiating_db = s.endpoint("initiating_db", Endpoint{"", 0});
  if (m.initiating_db.port == 0) s.fail(s.key("initiating_db"), s.node(), "is required (host:port)");
  m.initiating_db_host = s.str_or_default("initiating_db_host");
  if (m.initiating_db_host.empty()) m.initiating_db_host = m.initiating_db.host;
  m.ca_file = required_file(s, "ca", env);
  m.device_timeout = s.u32("device_timeout");
  m.mip_lifetime = s.u32("mip_lifetime");
  m.bootstrap_threads = s.u32("bootstrap_threads");
  m.bootstraps_in_flight = s.u32("bootstraps_in_flight");
  m.retry_max = s.u32("retry_max");
  if (s.get("billing")) {
    m.billing = s.endpoint("billing", Endpoint{});
    m.billing_host = s.str_or_default("billing_host");
    if (m.billing_host.empty()) m.billing_host = m.billing->host;
  }
  if (s.get("sip_listen")) m.sip_listen = s.endpoint("sip_listen", Endpoint{});
  if (s.get("sip_tls_listen")) {
    if (!m.sip_listen)
      s.fail(s.key("sip_tls_listen"), s.get("sip_tls_listen"), "needs sip_listen (calls are off without it)");
    m.sip_tls_listen = s.endpoint("sip_tls_listen", Endpoint{});
    m.sip_tls_cert = required_file(s, "sip_tls_cert", env);
    m.sip_tls_key = required_file(s, "sip_tls_key", env);
  } else if (s.get("sip_tls_cert") || s.get("sip_tls_key")) {
    s.fail(s.key(s.get("sip_tls_cert") ? "sip_tls_cert" : "sip_tls_key"), s.node(), "needs sip_tls_listen");
  }
  if (s.get("sip_peer")) {
    if (!m.sip_listen)
      s.fail(s.key("sip_peer"), s.get("sip_peer"), "needs sip_listen (calls are off without it)");
    m.sip_peer = s.endpoint("sip_peer", Endpoint{});
  }
  m.max_calls = s.u32("max_calls");
  m.max_call_seconds = s.u32("max_call_seconds");
  m.sip_per_source_per_minute = s.u32("sip_per_source_per_minute");
  m.sip_per_source_burst = s.u32("sip_per_source_burst");
  m.sip_tcp_idle_seconds = s.u32("sip_tcp_idle_seconds");
  m.sip_t1_ms = s.u32("sip_t1_ms");
  c.mobility_manager = m;
}

void parse_billing(Section& s, Config& c, const ConfigEnv& env) {
  need_kerberos(s, c);
  BillingConfig b;
  b.listen = s.endpoint("listen");
  b.cert_file = required_file(s, "cert", env);
  b.key_file = required_file(s, "key", env);
  b.keytab = required_file(s, "keytab", env);
  b.per_source_per_minute = s.u32("per_source_per_minute");
  b.per_source_burst = s.u32("per_source_burst");
  c.billing = b;
}

}  // namespace

const ConfigSectionHandler& billing_config_section() {
  static const ConfigSectionHandler h{"billing", kBillingSpecs, parse_billing};
  return h;
}

const ConfigSectionHandler& kerberos_config_section() {
  static const ConfigSectionHandler h{"kerberos", kKerberosSpecs, parse_kerberos};
  return h;
}
const ConfigSectionHandler& initiating_db_config_section() {
  static const ConfigSectionHandler h{"initiating_db", kInitDbSpecs, parse_initiating_db};
  return h;
}
const ConfigSectionHandler& mobility_manager_config_section() {
  static const ConfigSectionHandler h{"mobility_manager", kMmSpecs, parse_mobility_manager};
  return h;
}

}  // namespace mobix
