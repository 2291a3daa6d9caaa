#include "access/access_config.hpp"

#include <algorithm>

#include <boost/asio/ip/address_v4.hpp>

namespace mobix {

namespace {

constexpr KeySpec kAccessKeys[] = {
    {"radius", "section", "", "the RADIUS listeners and clients, see `access.radius`"},
    {"pools", "list", "", "address pools, see `access.pools[]`"},
    {"provisioning_realm", "string", "",
     "seed 004 Phase II: log-ins \"serial@<realm>\" are connectivity boxes configuring, checked against "
     "the valid-serial database (PAP only); a pool with this realm gives their addresses"},
};
constexpr SectionSpec kAccess{"access", "The access role: RADIUS (RFC 2865/2866) and the live session table.",
                              kAccessKeys};

constexpr KeySpec kRadiusKeys[] = {
    {"auth_listen", "endpoint", "127.0.0.1:1812", "RADIUS authentication (UDP)"},
    {"acct_listen", "endpoint", "127.0.0.1:1813", "RADIUS accounting (UDP)"},
    {"require_message_authenticator", "bool", "true", "refuse Access-Requests without it (BlastRADIUS)"},
    {"interim_interval", "u32", "300", "seconds, sent as Acct-Interim-Interval", 10, 86400},
    {"missed_interims", "u32", "3", "a session silent this many intervals expires", 1, 100},
    {"offer_timeout", "u32", "60", "seconds an Accept's address waits for its Start before it is freed", 1,
     3600},
    {"duplicate_cache_seconds", "u32", "30", "RFC 5080 2.2.2 duplicate detection window", 1, 600},
    {"accounting_max_age", "u32", "3600",
     "seconds; a Start, Interim or Accounting-On/Off whose Event-Timestamp (RFC 2869) or Acct-Delay-Time "
     "says "
     "it is older is refused as a replay",
     60, 7 * 86400},
    {"ended_session_memory", "u32", "86400",
     "seconds an ended (NAS, Acct-Session-Id) is remembered: a replayed Start or Interim cannot revive it", 0,
     30 * 86400},
    {"max_ended_sessions", "u32", "1000000", "ended sessions remembered at most (about 100 bytes each)", 0,
     100000000},
    {"max_pending_writes", "u32", "50000",
     "requests waiting for their store commit; beyond, new requests are dropped unanswered (counted "
     "`overloaded`) and the NAS retransmits",
     1, 10000000},
    {"clients", "list", "", "required: the NAS/GGSNs allowed to talk to us, see `access.radius.clients[]`"},
};
constexpr SectionSpec kRadius{"access.radius", "RADIUS listeners.", kRadiusKeys};

constexpr KeySpec kClientKeys[] = {
    {"name", "string", "", "required: the client's name (logs, metrics)"},
    {"address", "string", "", "required: its address or CIDR"},
    {"secret", "secret", "", "required (or secret_file): the shared secret, at least 8 characters"},
    {"secret_file", "file", "", "the shared secret from a file"},
};
constexpr SectionSpec kClient{"access.radius.clients[]", "One RADIUS client (RFC 2865 3).", kClientKeys};

constexpr KeySpec kPoolKeys[] = {
    {"name", "string", "", "required: the pool's name"},
    {"range", "string", "", "required: an IPv4 CIDR (/30 or wider) or \"first-last\""},
    {"apn", "string", "", "requests for this APN (Called-Station-Id) use the pool"},
    {"realm", "string", "", "requests whose User-Name has this realm use the pool; neither: the default"},
};
constexpr SectionSpec kPool{"access.pools[]", "An address pool handed out in Access-Accepts.", kPoolKeys};

constexpr const SectionSpec* kSpecs[] = {&kAccess, &kRadius, &kClient, &kPool};

PoolConfig parse_pool(Section& p) {
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
  pc.apn = p.str_or_default("apn");
  pc.realm = p.str_or_default("realm");
  return pc;
}

void parse(Section& s, Config& c, const ConfigEnv& env) {
  AccessConfig a;
  Section radius(s.get("radius"), s.key("radius"), env.source, &kRadius);
  a.auth_listen = radius.endpoint("auth_listen");
  a.acct_listen = radius.endpoint("acct_listen");
  a.require_message_authenticator = radius.boolean("require_message_authenticator");
  a.interim_interval = radius.u32("interim_interval");
  a.missed_interims = radius.u32("missed_interims");
  a.offer_timeout = radius.u32("offer_timeout");
  a.duplicate_cache_seconds = radius.u32("duplicate_cache_seconds");
  a.accounting_max_age = radius.u32("accounting_max_age");
  a.ended_session_memory = radius.u32("ended_session_memory");
  a.max_ended_sessions = radius.u32("max_ended_sessions");
  a.max_pending_writes = radius.u32("max_pending_writes");
  for_each_item(radius, "clients", &kClient, [&](Section& cl) {
    RadiusClientConfig rc;
    rc.name = cl.required("name");
    auto net = cl.required("address");
    auto cidr = Cidr::parse(net);
    if (!cidr)
      cl.fail(cl.key("address"), cl.get("address"), "must be an IP address or CIDR, got \"" + net + "\"");
    rc.network = *cidr;
    rc.secret = cl.secret("secret", env.base_dir);
    if (rc.secret.size() < 8) cl.fail(cl.key("secret"), cl.node(), "must be at least 8 characters");
    a.clients.push_back(std::move(rc));
  });
  radius.check_unknown();
  for_each_item(s, "pools", &kPool, [&](Section& p) { a.pools.push_back(parse_pool(p)); });
  a.provisioning_realm = lower(s.str_or_default("provisioning_realm"));
  if (!a.provisioning_realm.empty() && std::none_of(a.pools.begin(), a.pools.end(), [&](const PoolConfig& p) {
        return lower(p.realm) == a.provisioning_realm;
      }))
    s.fail(s.key("provisioning_realm"), s.get("provisioning_realm"),
           "needs a pool with this realm (access.pools[].realm): the configuration addresses");
  if (a.clients.empty()) s.fail(s.key("radius.clients"), s.node(), "at least one RADIUS client is required");
  c.access = std::move(a);
}

}  // namespace

const ConfigSectionHandler& access_config_section() {
  static const ConfigSectionHandler h{"access", kSpecs, parse};
  return h;
}

}  // namespace mobix
