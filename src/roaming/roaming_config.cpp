#include "roaming/roaming_config.hpp"

namespace mobix {

namespace {

constexpr KeySpec kRoamingKeys[] = {
    {"realms", "list", "", "required: our own subscribers' realms (User-Name \"alice@<realm>\", RFC 7542)"},
    {"radsec_listen", "endpoint", "", "partners' visited networks reach us (home side) here; absent: none"},
    {"tls_cert_file", "file", "", "required: our RadSec certificate (PEM)"},
    {"tls_key_file", "file", "", "required: its key"},
    {"ca_file", "file", "", "required: the roaming CA both ends chain to (RFC 6614 2.4)"},
    {"crl_file", "file", "",
     "the roaming CA's CRL (PEM): a revoked partner certificate is refused; re-read "
     "when the file changes"},
    {"timeout", "u32", "5", "seconds for a partner's answer", 1, 60},
    {"status_server_interval", "u32", "30",
     "seconds an idle connection to a partner's server waits before a Status-Server probe (RFC 5997); "
     "unanswered, the connection is closed; 0: off",
     0, 3600},
    {"partners", "list", "", "networks we have a roaming agreement with, see `roaming.partners[]`"},
};
constexpr SectionSpec kRoaming{
    "roaming", "Roaming (seed 002): RADIUS over TLS (RFC 6614) between home and visited networks.",
    kRoamingKeys};

constexpr KeySpec kPartnerKeys[] = {
    {"name", "string", "", "required: the partner's name"},
    {"realm", "string", "", "required: their subscribers' realm"},
    {"certificate_name", "string", "", "pin: a DNS name their certificate must carry"},
    {"certificate_sha256", "string", "",
     "pin: their certificate's SHA-256 (64 hex digits); one pin is required"},
    {"server", "endpoint", "", "their RadSec server: their roamers' requests go there"},
};
constexpr SectionSpec kPartner{"roaming.partners[]", "One roaming partner, pinned.", kPartnerKeys};

constexpr const SectionSpec* kSpecs[] = {&kRoaming, &kPartner};

RoamingPartnerConfig parse_partner(Section& p, const RoamingConfig& r) {
  RoamingPartnerConfig pc;
  pc.name = p.required("name");
  pc.realm = lower(p.required("realm"));
  pc.certificate_name = lower(p.str_or_default("certificate_name"));
  pc.certificate_sha256 = lower(p.str_or_default("certificate_sha256"));
  std::erase(pc.certificate_sha256, ':');
  if (pc.certificate_name.empty() && pc.certificate_sha256.empty())
    p.fail(p.key("certificate_name"), p.node(),
           "pin the partner: give certificate_name or certificate_sha256");
  if (!pc.certificate_sha256.empty() && pc.certificate_sha256.size() != 64)
    p.fail(p.key("certificate_sha256"), p.get("certificate_sha256"), "must be 64 hex digits");
  if (p.get("server")) pc.server = p.endpoint("server", Endpoint{});
  for (const auto& o : r.realms)
    if (o == pc.realm) p.fail(p.key("realm"), p.get("realm"), "is one of our own realms");
  return pc;
}

void parse(Section& s, Config& c, const ConfigEnv& env) {
  RoamingConfig r;
  auto realms = s.get("realms");
  if (!realms || !realms.IsSequence() || realms.size() == 0)
    s.fail(s.key("realms"), realms, "a list of our own subscribers' realms is required");
  for (std::size_t i = 0; i < realms.size(); ++i) r.realms.push_back(lower(realms[i].as<std::string>()));
  if (s.get("radsec_listen")) r.radsec_listen = s.endpoint("radsec_listen", Endpoint{});
  r.tls_cert_file = s.existing_file("tls_cert_file", env.base_dir);
  r.tls_key_file = s.existing_file("tls_key_file", env.base_dir);
  r.ca_file = s.existing_file("ca_file", env.base_dir);
  if (r.tls_cert_file.empty() || r.tls_key_file.empty() || r.ca_file.empty())
    s.fail(s.key("tls_cert_file"), s.node(),
           "RadSec is mutually authenticated: give tls_cert_file, tls_key_file and ca_file");
  r.crl_file = s.existing_file("crl_file", env.base_dir);
  r.timeout = s.u32("timeout");
  r.status_server_interval = s.u32("status_server_interval");
  for_each_item(s, "partners", &kPartner, [&](Section& p) { r.partners.push_back(parse_partner(p, r)); });
  c.roaming = std::move(r);
}

}  // namespace

const ConfigSectionHandler& roaming_config_section() {
  static const ConfigSectionHandler h{"roaming", kSpecs, parse, true,
                                      "roaming is part of the access role: configure access too"};
  return h;
}

}  // namespace mobix
