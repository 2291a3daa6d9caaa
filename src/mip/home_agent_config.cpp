#include "mip/home_agent_config.hpp"

#include "codec/mip/mip.hpp"

namespace mobix {

namespace {

constexpr KeySpec kKeys[] = {
    {"listen", "endpoint", "0.0.0.0:434", "Registration Requests arrive here (UDP, RFC 5944 port 434)"},
    {"address", "string", "",
     "the Home Agent address requests must carry; default: listen's (required when "
     "listen is a wildcard)"},
    {"max_lifetime", "u32", "1800",
     "seconds a registration is granted at most; longer requests get this "
     "(RFC 5944 3.8.3.1)",
     1, 65534},
    {"replay_window", "u32", "7", "seconds a request's timestamp may differ from this clock (RFC 5944 5.7)",
     1, 300},
    {"max_bindings", "u32", "1000000", "registrations beyond this are refused with code 130", 1, 100000000},
    {"per_source_per_minute", "u32", "6000",
     "requests per source address and minute (a foreign agent relays "
     "many nodes); more are dropped",
     1, 10000000},
    {"per_source_burst", "u32", "200", "requests a source may send at once", 1, 1000000},
    {"key_cache_seconds", "u32", "60", "a device's Mobile IP key is re-read from the store after this", 0,
     3600},
};
constexpr SectionSpec kSection{"home_agent",
                               "The Home Agent (seed 003): Mobile IPv4 registrations of devices' home "
                               "addresses, keyed by the devices' Mobile IP keys.",
                               kKeys};
constexpr const SectionSpec* kSpecs[] = {&kSection};

void parse(Section& s, Config& c, const ConfigEnv&) {
  HomeAgentConfig h;
  h.listen = s.endpoint("listen");
  h.address = s.str_or_default("address");
  if (h.address.empty()) h.address = h.listen.host;
  auto a = mip::ipv4_from_string(h.address);
  if (!a || *a == 0)
    s.fail(s.key("address"), s.get("address"),
           "must be the Home Agent's IPv4 address (give it when listen is a wildcard or IPv6)");
  h.max_lifetime = s.u32("max_lifetime");
  h.replay_window = s.u32("replay_window");
  h.max_bindings = s.u32("max_bindings");
  h.per_source_per_minute = s.u32("per_source_per_minute");
  h.per_source_burst = s.u32("per_source_burst");
  h.key_cache_seconds = s.u32("key_cache_seconds");
  c.home_agent = h;
}

}  // namespace

const ConfigSectionHandler& home_agent_config_section() {
  static const ConfigSectionHandler h{"home_agent", kSpecs, parse};
  return h;
}

}  // namespace mobix
