#include "css/css_config.hpp"

#include <filesystem>

namespace mobix {

namespace {

constexpr KeySpec kCssKeys[] = {
    {"ca_dir", "file", "", "required: the root CA directory (`mobix pki init`): it signs CB certificates"},
    {"cert", "file", "",
     "required: the CSS's certificate (OU css), issued by that CA (`mobix factory css-cert`)"},
    {"key", "file", "", "required: its private key"},
    {"config_realm", "string", "", "required: the configuration log-in realm, as access.provisioning_realm"},
    {"access_realm", "string", "", "required: boxes' normal access log-ins are \"<CB ID>@<this realm>\""},
    {"box_port", "u32", "8443", "Phase II: the port boxes serve the configuration protocol on", 1, 65535},
    {"listen", "endpoint", "127.0.0.1:8444", "the connectivity listener boxes call (mutual TLS, Phase III)"},
    {"public_address", "endpoint", "", "what boxes are told to call (parameters 191); default: listen"},
    {"download_timeout", "u32", "10", "seconds for one Phase II connection and download", 1, 300},
    {"wakeup_delay", "u32", "2", "seconds after Phase II before the wake-up SMS (step [6])", 0, 3600},
    {"callback_timeout", "u32", "120", "seconds for the box to call back after the wake-up (Phase III)", 5,
     86400},
    {"connected_timeout", "u32", "5", "parameters 191: seconds a box stays connected when idle", 1, 3600},
    {"cert_days", "u32", "397", "validity of the CB certificates issued", 1, 3650},
    {"max_concurrent_downloads", "u32", "64", "Phase II downloads at once; more wait their turn", 1, 10000},
    {"wakeup", "section", "", "required: the wake-up SMS, see `css.wakeup`"},
};
constexpr SectionSpec kCss{"css",
                           "The connectivity service system (seed 004): configuration manager, wake-up and "
                           "the connectivity listener.",
                           kCssKeys};

constexpr KeySpec kWakeupKeys[] = {
    {"smsc", "endpoint", "127.0.0.1:2775", "the SMSC (SMPP 3.4)"},
    {"system_id", "string", "", "required: at most 15 characters"},
    {"password", "secret", "", "at most 8 characters (SMPP 3.4)"},
    {"password_file", "file", "", "the password from a file"},
    {"source", "string", "MOBIX", "the SMS's originating address"},
    {"per_second", "u32", "50", "wake-up SMS per second at most (they cost money)", 1, 100000},
};
constexpr SectionSpec kWakeup{"css.wakeup", "The wake-up SMS of seed 004 Phase III (SMPP submit_sm).",
                              kWakeupKeys};

constexpr const SectionSpec* kSpecs[] = {&kCss, &kWakeup};

std::string dir_path(Section& s, const std::string& k, const std::string& base_dir) {
  auto v = s.required(k);
  std::filesystem::path p(v);
  if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
  if (!std::filesystem::exists(p / "ca.crt") || !std::filesystem::exists(p / "ca.key"))
    s.fail(s.key(k), s.get(k), "no CA (ca.crt and ca.key) in " + p.string());
  return p.string();
}

void parse(Section& s, Config& c, const ConfigEnv& env) {
  CssConfig cs;
  cs.ca_dir = dir_path(s, "ca_dir", env.base_dir);
  cs.cert_file = s.existing_file("cert", env.base_dir);
  cs.key_file = s.existing_file("key", env.base_dir);
  if (cs.cert_file.empty() || cs.key_file.empty())
    s.fail(s.key("cert"), s.node(), "cert and key are required");
  cs.config_realm = lower(s.required("config_realm"));
  cs.access_realm = lower(s.required("access_realm"));
  cs.box_port = s.u32("box_port");
  cs.listen = s.endpoint("listen");
  if (s.get("public_address")) cs.public_address = s.endpoint("public_address", Endpoint{});
  cs.download_timeout = s.u32("download_timeout");
  cs.wakeup_delay = s.u32("wakeup_delay");
  cs.callback_timeout = s.u32("callback_timeout");
  cs.connected_timeout = s.u32("connected_timeout");
  cs.cert_days = s.u32("cert_days");
  cs.max_concurrent_downloads = s.u32("max_concurrent_downloads");
  auto w = s.get("wakeup");
  if (!Section::present(w)) s.fail(s.key("wakeup"), s.node(), "is required: how boxes are woken (SMS)");
  Section ws(w, s.key("wakeup"), env.source, &kWakeup);
  cs.wakeup_smsc.smsc = ws.endpoint("smsc");
  cs.wakeup_smsc.system_id = ws.required("system_id");
  cs.wakeup_smsc.password = ws.secret("password", env.base_dir);
  cs.wakeup_source = ws.str_or_default("source");
  cs.wakeups_per_second = ws.u32("per_second");
  ws.check_unknown();
  if (c.access && c.access->provisioning_realm != cs.config_realm)
    s.fail(s.key("config_realm"), s.get("config_realm"),
           "must equal access.provisioning_realm (\"" + c.access->provisioning_realm + "\")");
  c.css = std::move(cs);
}

}  // namespace

const ConfigSectionHandler& css_config_section() {
  static const ConfigSectionHandler h{"css", kSpecs, parse, true,
                                      "the configuration manager learns boxes' addresses from the access "
                                      "sessions (seed 004 step [4]): configure access too"};
  return h;
}

}  // namespace mobix
