#include "relay/relay_config.hpp"

#include <boost/asio/ip/address.hpp>

namespace mobix {

namespace {

constexpr KeySpec kSignalKeyKeys[] = {
    {"id", "u32", "1", "the key's id, sent with each signal so keys can be rolled over", 0, 255},
    {"key", "secret", "", "required (or key_file): 64 hex digits (openssl rand -hex 32)"},
    {"key_file", "file", "", "the key from a file"},
};
constexpr SectionSpec kSignalKey{"relay.signal_key, gateway.signal_keys[]",
                                 "A signal key (ChaCha20-Poly1305) shared by relay and gateway.",
                                 kSignalKeyKeys};

constexpr KeySpec kSmppKeys[] = {
    {"smsc", "endpoint", "127.0.0.1:2775", "the SMSC (SMPP 3.4)"},
    {"system_id", "string", "", "required: at most 15 characters"},
    {"password", "secret", "", "at most 8 characters (SMPP 3.4)"},
    {"password_file", "file", "", "the password from a file"},
};
constexpr SectionSpec kSmpp{"relay.smpp, gateway.smpp",
                            "An SMPP bind to the operator's SMSC (seed 001 step D).", kSmppKeys};

constexpr KeySpec kRelayKeys[] = {
    {"public_listen", "endpoint", "0.0.0.0:8080",
     "clients: the HTTP Host or TLS SNI names the mobile server"},
    {"port_map", "list", "", "raw TCP services, one relay port each, see `relay.port_map[]`"},
    {"callback_listen", "endpoint", "0.0.0.0:7443", "gateways dial back here over TLS (step G)"},
    {"callback_address", "string", "", "the address announced in the signal; default: callback_listen's"},
    {"tls_cert_file", "file", "", "required: the callback port's certificate"},
    {"tls_key_file", "file", "", "required: its key"},
    {"signal_key", "section", "", "required: see `relay.signal_key, gateway.signal_keys[]`"},
    {"channel", "enum", "smpp", "how the signal travels: SMS, HTTPS webhook or e-mail", 0, 0,
     "smpp|webhook|email"},
    {"smpp", "section", "", "channel smpp: see `relay.smpp, gateway.smpp`"},
    {"gateway_msisdn", "string", "", "channel smpp: the number the gateway receives signals on"},
    {"webhook_url", "string", "", "channel webhook: https://host:port/v1/signal"},
    {"webhook_ca_file", "file", "", "channel webhook: the gateway's certificate chains to this"},
    {"email", "section", "", "channel email: see `relay.email`"},
    {"callback_encryption", "enum", "auto",
     "auto: an end-to-end TLS service's callback leg leaves TLS after the key and the client's first flight "
     "(both proxies splice); always: TLS for every tunnel",
     0, 0, "auto|always"},
    {"end_to_end_tls", "enum", "leg",
     "with the gateway's multiplexed link up, an end-to-end TLS tunnel gets its own leg, asked for over the "
     "link, that leaves TLS so both proxies splice zero-copy (leg), or rides the link with no handshake "
     "(link); a service's attribute relay.end_to_end_tls overrides it",
     0, 0, "leg|link"},
    {"hold_timeout", "u32", "10", "seconds a client waits for its tunnel", 1, 120},
    {"max_pending_per_client_ip", "u32", "8", "tunnels one client address may wait for at once", 1, 10000},
    {"max_pending_per_target", "u32", "32", "tunnels waiting for one mobile server at once", 1, 10000},
    {"signals_per_minute_per_target", "u32", "6",
     "wake-up signals (each an SMS, e-mail or webhook call) per minute for one terminal; clients "
     "waiting for the same terminal share one",
     1, 10000},
    {"signal_burst_per_target", "u32", "3", "signals for one terminal at once, before the rate applies", 1,
     10000},
    {"signals_per_minute_per_client", "u32", "10", "signals one client address can cause per minute", 1,
     10000},
    {"signal_burst_per_client", "u32", "5", "signals one client address can cause at once", 1, 10000},
    {"signals_per_minute", "u32", "600", "signals per minute in all", 1, 1000000},
    {"signal_burst", "u32", "60", "signals at once in all", 1, 1000000},
    {"spare_legs", "u32", "1",
     "legs the gateway keeps dialled in per terminal for the next clients (no signal needed while one "
     "waits)",
     0, 16},
    {"spare_leg_idle_timeout", "u32", "60",
     "seconds a spare leg waits for a client before the relay closes it", 5, 3600},
    {"tunnel_idle_timeout", "u32", "300", "seconds without traffic before a tunnel closes", 10, 86400},
    {"tunnel_max_duration", "u32", "86400", "seconds a tunnel may last in total", 60, 30 * 86400},
};
constexpr SectionSpec kRelay{"relay", "The public relay (seed 001 \"first public proxy server\").",
                             kRelayKeys};

constexpr KeySpec kRelayEmailKeys[] = {
    {"smtp", "endpoint", "127.0.0.1:25", "the operator's MTA (or the gateway's SMTP receiver)"},
    {"tls", "enum", "starttls", "starttls (required), tls (implicit) or none", 0, 0, "starttls|tls|none"},
    {"ca_file", "file", "", "the server's certificate chains to this; empty: the system store"},
    {"from", "string", "", "required: envelope and header sender"},
    {"to", "string", "", "required: the gateway's mailbox"},
    {"username", "string", "", "optional AUTH PLAIN, only over TLS"},
    {"password", "secret", "", "its password"},
    {"password_file", "file", "", "the password from a file"},
};
constexpr SectionSpec kRelayEmail{
    "relay.email", "Step D by e-mail: one kept SMTP session, one message per signal.", kRelayEmailKeys};

constexpr KeySpec kPortMapKeys[] = {
    {"listen", "endpoint", "", "required: the relay port (fixed)"},
    {"hostname", "string", "", "required: the mobile server (a subscriber's host name)"},
    {"target_port", "u32", "", "required: the service's port on the terminal", 1, 65535},
};
constexpr SectionSpec kPortMap{"relay.port_map[]", "A relay port dedicated to one raw TCP service.",
                               kPortMapKeys};

constexpr KeySpec kGatewayKeys[] = {
    {"smpp", "section", "", "receive signals as SMS: see `relay.smpp, gateway.smpp`"},
    {"address_range", "string", "", "with smpp: the destination prefix the SMSC routes to this gateway"},
    {"webhook_listen", "endpoint", "", "receive signals by HTTPS POST /v1/signal"},
    {"webhook_cert_file", "file", "", "with webhook_listen: its certificate"},
    {"webhook_key_file", "file", "", "with webhook_listen: its key"},
    {"email", "section", "", "receive signals by e-mail: see `gateway.email`"},
    {"signal_keys", "list", "", "required: see `relay.signal_key, gateway.signal_keys[]`"},
    {"relay_ca_file", "file", "", "required: the relay's callback certificate chains to this"},
    {"connect_timeout", "u32", "5", "seconds to reach the terminal and the relay", 1, 60},
    {"max_signal_lifetime", "u32", "300", "seconds; signals expiring later are refused", 10, 3600},
    {"leg_wait_timeout", "u32", "600",
     "seconds a leg dialled in to the relay waits for a client (keep above the relay's "
     "spare_leg_idle_timeout)",
     10, 86400},
    {"max_legs_per_link", "u32", "256",
     "legs open at once for one signal (the relay asks for more as clients come); with multiplex: "
     "tunnels open at once on the link",
     1, 100000},
    {"multiplex", "bool", "false",
     "a signal opens one TLS link to the relay carrying every tunnel as an HTTP/2 stream, kept while "
     "in use: later tunnels need no signal and no handshake (docs/relay.md)"},
    {"link_idle_timeout", "u32", "120", "with multiplex: seconds a link without tunnels stays open", 5,
     86400},
    {"tunnel_idle_timeout", "u32", "300", "seconds without traffic before a tunnel closes", 10, 86400},
    {"tunnel_max_duration", "u32", "86400", "seconds a tunnel may last in total", 60, 30 * 86400},
};
constexpr SectionSpec kGateway{"gateway", "The private gateway (seed 001 \"second private proxy server\").",
                               kGatewayKeys};

constexpr KeySpec kGatewayEmailKeys[] = {
    {"listen", "endpoint", "", "required: the SMTP receiver"},
    {"address", "string", "", "required: the only recipient accepted"},
    {"tls_cert_file", "file", "", "STARTTLS offered when given (with tls_key_file)"},
    {"tls_key_file", "file", "", "its key"},
    {"command_timeout", "u32", "300", "seconds waiting for the sender's next command (RFC 5321 4.5.3.2)", 5,
     3600},
};
constexpr SectionSpec kGatewayEmail{"gateway.email", "Step D by e-mail at the gateway (RFC 5321 receiver).",
                                    kGatewayEmailKeys};

constexpr const SectionSpec* kRelaySpecs[] = {&kRelay, &kRelayEmail, &kPortMap, &kSignalKey, &kSmpp};
constexpr const SectionSpec* kGatewaySpecs[] = {&kGateway, &kGatewayEmail};

SignalKeyConfig parse_signal_key(Section& s, const std::string& base_dir) {
  SignalKeyConfig k;
  k.id = static_cast<std::uint8_t>(s.u32("id"));
  k.key_hex = s.secret("key", base_dir);
  if (k.key_hex.size() != 64 || k.key_hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
    s.fail(s.key("key"), s.node(), "must be 64 hex digits (32 octets): openssl rand -hex 32");
  s.check_unknown();
  return k;
}

SmppClientConfig parse_smpp_client(Section& s, const std::string& base_dir) {
  SmppClientConfig c;
  c.smsc = s.endpoint("smsc");
  c.system_id = s.required("system_id");
  if (c.system_id.size() > 15)
    s.fail(s.key("system_id"), s.get("system_id"), "at most 15 characters (SMPP 3.4)");
  c.password = s.secret("password", base_dir);
  if (c.password.size() > 8) s.fail(s.key("password"), s.node(), "at most 8 characters (SMPP 3.4)");
  s.check_unknown();
  return c;
}

RelayEmailConfig parse_relay_email(Section& m, const std::string& base_dir) {
  RelayEmailConfig e;
  e.smtp = m.endpoint("smtp");
  e.tls = m.choice<SmtpTls>(
      "tls", {{"starttls", SmtpTls::starttls}, {"tls", SmtpTls::tls}, {"none", SmtpTls::none}});
  e.ca_file = m.existing_file("ca_file", base_dir);
  e.from = m.mail_address("from");
  e.to = m.mail_address("to");
  e.username = m.str_or_default("username");
  if (!e.username.empty()) {
    e.password = m.secret("password", base_dir);
    if (e.tls == SmtpTls::none)
      m.fail(m.key("username"), m.get("username"), "AUTH only over TLS: set tls to starttls or tls");
  }
  m.check_unknown();
  return e;
}

void parse_channel(Section& s, RelayConfig& r, const ConfigEnv& env) {
  r.channel = s.choice<SignalChannel>(
      "channel",
      {{"smpp", SignalChannel::smpp}, {"webhook", SignalChannel::webhook}, {"email", SignalChannel::email}});
  switch (r.channel) {
    case SignalChannel::smpp: {
      Section smpp(s.get("smpp"), s.key("smpp"), env.source, &kSmpp);
      r.smpp = parse_smpp_client(smpp, env.base_dir);
      r.gateway_msisdn = s.required("gateway_msisdn");
      break;
    }
    case SignalChannel::webhook:
      r.webhook_url = s.required("webhook_url");
      if (r.webhook_url.rfind("https://", 0) != 0)
        s.fail(s.key("webhook_url"), s.get("webhook_url"),
               "must be an https:// URL (the webhook is TLS-only)");
      r.webhook_ca_file = s.existing_file("webhook_ca_file", env.base_dir);
      break;
    case SignalChannel::email: {
      if (!Section::present(s.get("email")))
        s.fail(s.key("email"), s.node(), "channel email needs an email section");
      Section m(s.get("email"), s.key("email"), env.source, &kRelayEmail);
      r.email = parse_relay_email(m, env.base_dir);
      break;
    }
  }
}

void parse_relay(Section& s, Config& c, const ConfigEnv& env) {
  RelayConfig r;
  r.public_listen = s.endpoint("public_listen");
  r.callback_listen = s.endpoint("callback_listen");
  r.callback_address = s.str("callback_address", r.callback_listen.host);
  boost::system::error_code ec;
  boost::asio::ip::make_address(r.callback_address, ec);
  if (ec || r.callback_address == "0.0.0.0" || r.callback_address == "::")
    s.fail(s.key("callback_address"), s.get("callback_address"), "must be the relay's reachable IP address");
  r.tls_cert_file = s.existing_file("tls_cert_file", env.base_dir);
  r.tls_key_file = s.existing_file("tls_key_file", env.base_dir);
  if (r.tls_cert_file.empty() || r.tls_key_file.empty())
    s.fail(s.key("tls_cert_file"), s.node(), "the callback port needs tls_cert_file and tls_key_file");
  Section key(s.get("signal_key"), s.key("signal_key"), env.source, &kSignalKey);
  r.signal_key = parse_signal_key(key, env.base_dir);
  parse_channel(s, r, env);
  for_each_item(s, "port_map", &kPortMap, [&](Section& m) {
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
  r.callback_encryption = s.choice<CallbackEncryption>(
      "callback_encryption",
      {{"auto", CallbackEncryption::automatic}, {"always", CallbackEncryption::always}});
  r.end_to_end_tls = s.choice<EndToEndTlsPath>(
      "end_to_end_tls", {{"leg", EndToEndTlsPath::leg}, {"link", EndToEndTlsPath::link}});
  r.hold_timeout = s.u32("hold_timeout");
  r.max_pending_per_client_ip = s.u32("max_pending_per_client_ip");
  r.max_pending_per_target = s.u32("max_pending_per_target");
  r.signals_per_minute_per_target = s.u32("signals_per_minute_per_target");
  r.signal_burst_per_target = s.u32("signal_burst_per_target");
  r.signals_per_minute_per_client = s.u32("signals_per_minute_per_client");
  r.signal_burst_per_client = s.u32("signal_burst_per_client");
  r.signals_per_minute = s.u32("signals_per_minute");
  r.signal_burst = s.u32("signal_burst");
  r.spare_legs = s.u32("spare_legs");
  r.spare_leg_idle_timeout = s.u32("spare_leg_idle_timeout");
  r.tunnel_idle_timeout = s.u32("tunnel_idle_timeout");
  r.tunnel_max_duration = s.u32("tunnel_max_duration");
  c.relay = std::move(r);
}

GatewayEmailConfig parse_gateway_email(Section& m, const std::string& base_dir) {
  GatewayEmailConfig e;
  if (!m.get("listen")) m.fail(m.key("listen"), m.node(), "is required (host:port of the SMTP receiver)");
  e.listen = m.endpoint("listen", Endpoint{});
  e.address = m.mail_address("address");
  e.tls_cert_file = m.existing_file("tls_cert_file", base_dir);
  e.tls_key_file = m.existing_file("tls_key_file", base_dir);
  if (e.tls_cert_file.empty() != e.tls_key_file.empty())
    m.fail(m.key("tls_cert_file"), m.node(), "STARTTLS needs both tls_cert_file and tls_key_file");
  e.command_timeout = m.u32("command_timeout");
  m.check_unknown();
  return e;
}

void parse_gateway(Section& s, Config& c, const ConfigEnv& env) {
  GatewayConfig g;
  if (auto n = s.get("smpp")) {
    Section smpp(n, s.key("smpp"), env.source, &kSmpp);
    g.smpp = parse_smpp_client(smpp, env.base_dir);
    g.address_range = s.required("address_range");
  }
  if (s.get("webhook_listen")) {
    g.webhook_listen = s.endpoint("webhook_listen", Endpoint{});
    g.webhook_cert_file = s.existing_file("webhook_cert_file", env.base_dir);
    g.webhook_key_file = s.existing_file("webhook_key_file", env.base_dir);
    if (g.webhook_cert_file.empty() || g.webhook_key_file.empty())
      s.fail(s.key("webhook_listen"), s.node(),
             "the webhook is HTTPS: give webhook_cert_file and webhook_key_file");
  }
  if (auto n = s.get("email")) {
    Section m(n, s.key("email"), env.source, &kGatewayEmail);
    g.email = parse_gateway_email(m, env.base_dir);
  }
  if (!g.smpp && !g.webhook_listen && !g.email)
    s.fail(s.key("smpp"), s.node(), "give smpp (SMS), webhook_listen (HTTPS) or email (SMTP)");
  for_each_item(s, "signal_keys", &kSignalKey,
                [&](Section& k) { g.signal_keys.push_back(parse_signal_key(k, env.base_dir)); });
  if (g.signal_keys.empty()) s.fail(s.key("signal_keys"), s.node(), "at least one signal key is required");
  g.relay_ca_file = s.existing_file("relay_ca_file", env.base_dir);
  if (g.relay_ca_file.empty())
    s.fail(s.key("relay_ca_file"), s.node(), "the relay's CA is required (TLS is verified)");
  g.connect_timeout = s.u32("connect_timeout");
  g.max_signal_lifetime = s.u32("max_signal_lifetime");
  g.leg_wait_timeout = s.u32("leg_wait_timeout");
  g.max_legs_per_link = s.u32("max_legs_per_link");
  g.multiplex = s.boolean("multiplex");
  g.link_idle_timeout = s.u32("link_idle_timeout");
  g.tunnel_idle_timeout = s.u32("tunnel_idle_timeout");
  g.tunnel_max_duration = s.u32("tunnel_max_duration");
  c.gateway = std::move(g);
}

}  // namespace

const ConfigSectionHandler& relay_config_section() {
  static const ConfigSectionHandler h{"relay", kRelaySpecs, parse_relay};
  return h;
}

const ConfigSectionHandler& gateway_config_section() {
  static const ConfigSectionHandler h{
      "gateway", kGatewaySpecs, parse_gateway, true,
      "the gateway finds terminals through the access role: configure access too"};
  return h;
}

}  // namespace mobix
