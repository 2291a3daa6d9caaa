#include "mail/mail_config.hpp"

namespace mobix {

namespace {

constexpr KeySpec kMailKeys[] = {
    {"pop3_listen", "endpoint", "", "the POP3 proxy (seed 000 steps 101-106); absent: none"},
    {"imap_listen", "endpoint", "", "the IMAP proxy (RFC 9051); absent: none"},
    {"smtp_listen", "endpoint", "", "the SMTP submission proxy (seed 000 steps 201-207); absent: none"},
    {"access_ranges", "list", "", "required: the access network's ranges; only these are identified by IP"},
    {"max_message_size", "u32", "26214400", "octets, advertised as SIZE (RFC 1870)", 1024, 1u << 30},
    {"upstream_timeout", "u32", "10", "seconds to connect and log in upstream", 1, 300},
    {"idle_timeout", "u32", "600", "seconds without traffic before a relayed session is closed", 10, 86400},
    {"session_timeout", "u32", "14400", "seconds a relayed session may last in total", 1, 7 * 86400},
    {"pop3_command_timeout", "u32", "60", "seconds the POP3 proxy waits for a command before login", 5, 3600},
    {"imap_command_timeout", "u32", "120", "seconds the IMAP proxy waits for a command before login", 5,
     3600},
    {"max_failures_per_minute", "u32", "10", "failed logins per client address, then refused for a minute", 1,
     100000},
    {"upstream_ca_file", "file", "", "CA (PEM) the subscribers' mail servers chain to; empty: system store"},
};
constexpr SectionSpec kMail{
    "mail", "The mail role (seed 000): proxies that log in on the subscriber's behalf.", kMailKeys};
constexpr const SectionSpec* kSpecs[] = {&kMail};

void parse(Section& s, Config& c, const ConfigEnv& env) {
  MailConfig m;
  if (s.get("pop3_listen")) m.pop3_listen = s.endpoint("pop3_listen", Endpoint{});
  if (s.get("smtp_listen")) m.smtp_listen = s.endpoint("smtp_listen", Endpoint{});
  if (s.get("imap_listen")) m.imap_listen = s.endpoint("imap_listen", Endpoint{});
  if (!m.pop3_listen && !m.smtp_listen && !m.imap_listen)
    s.fail(s.key("pop3_listen"), s.node(), "give at least one of pop3_listen, imap_listen, smtp_listen");
  m.max_message_size = s.u32("max_message_size");
  m.upstream_timeout = s.u32("upstream_timeout");
  m.idle_timeout = s.u32("idle_timeout");
  m.session_timeout = s.u32("session_timeout");
  m.pop3_command_timeout = s.u32("pop3_command_timeout");
  m.imap_command_timeout = s.u32("imap_command_timeout");
  m.max_failures_per_minute = s.u32("max_failures_per_minute");
  m.upstream_ca_file = s.existing_file("upstream_ca_file", env.base_dir);
  auto ranges = s.get("access_ranges");
  if (!ranges || !ranges.IsSequence() || ranges.size() == 0)
    s.fail(s.key("access_ranges"), ranges, "a list of the access network's address ranges is required");
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    auto r = ranges[i].IsScalar() ? Cidr::parse(ranges[i].Scalar()) : std::nullopt;
    if (!r)
      s.fail(s.key("access_ranges[" + std::to_string(i) + "]"), ranges[i], "must be an IP address or CIDR");
    m.access_ranges.push_back(*r);
  }
  c.mail = std::move(m);
}

}  // namespace

const ConfigSectionHandler& mail_config_section() {
  static const ConfigSectionHandler h{"mail", kSpecs, parse, true,
                                      "the mail role identifies handsets through the access role: configure "
                                      "access too"};
  return h;
}

}  // namespace mobix
