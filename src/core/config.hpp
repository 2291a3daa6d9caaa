#pragma once
// The one YAML config file, loaded into immutable typed structs (DESIGN.md "Config").
// Unknown keys and bad values are errors that name the file, line and key.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/log.hpp"
#include "core/net.hpp"

namespace mobix {

class ConfigError : public std::runtime_error {
 public:
  ConfigError(const std::string& file, int line, const std::string& key, const std::string& what);
  const std::string& key() const { return key_; }
  int line() const { return line_; }

 private:
  std::string key_;
  int line_;
};

// Settings with a fixed set of values are enums (parsed by Section::choice from the section's table).
enum class DirectoryBackend { store, ldap };
/// seed 001 step D: how the relay's access request signal travels.
enum class SignalChannel { smpp, webhook, email };
/// How the relay's callback leg protects an end-to-end TLS service (relay.callback_encryption).
enum class CallbackEncryption { automatic, always };
/// With the gateway's multiplexed link up, how an end-to-end TLS tunnel travels (relay.end_to_end_tls).
enum class EndToEndTlsPath { leg, link };
/// TLS towards an SMTP server: STARTTLS required, implicit TLS, or none.
enum class SmtpTls { starttls, tls, none };

struct LogConfig {
  std::string level = "info";
  LogFormat format = LogFormat::text;
};

/// Connection caps for every TCP listener (see ConnectionLimits in core/tcp_service.hpp).
struct LimitsConfig {
  std::uint32_t max_connections_per_listener = 10000;
  std::uint32_t max_connections_per_address = 256;
};

enum class StoreBackend { sqlite, postgresql };
enum class StoreMigrate { automatic, manual };

struct StoreConfig {
  StoreBackend backend = StoreBackend::sqlite;
  std::string path = "mobix.db";  ///< SQLite file; relative paths are relative to the config file
  std::string dsn;                ///< PostgreSQL connection string (libpq); may hold a password: never logged
  std::uint32_t pool_size = 4;    ///< PostgreSQL connections per node (one is the group-commit writer's)
  std::uint32_t connect_timeout = 5;  ///< seconds per PostgreSQL connection attempt
  std::uint32_t job_lease = 15;       ///< seconds a node holds a singleton job without renewing
  /// Server-side prepared statements; off behind a transaction-mode pooler older than PgBouncer 1.21.
  bool prepared_statements = true;
  /// The change feed's LISTEN connection (it needs a session: straight to PostgreSQL when `dsn` goes
  /// through a transaction-mode pooler); empty: `dsn`. Never logged.
  std::string feed_dsn;
  StoreMigrate migrate = StoreMigrate::automatic;
};

struct AdminConfig {
  Endpoint listen{"127.0.0.1", 9100};
  std::string token;      ///< /api/v1 requires "Authorization: Bearer <token>"
  bool no_token = false;  ///< explicitly open (loopback only: a lab or a test)
  std::vector<std::string>
      allowed_hosts;  ///< names the Host header may carry besides addresses and localhost
};

/// A NAS/GGSN allowed to talk RADIUS to us (RFC 2865 section 3: per-client shared secret).
struct RadiusClientConfig {
  std::string name;
  Cidr network;
  std::string secret;
};

/// An address pool. A request matches the pool when its APN (Called-Station-Id) or its
/// User-Name realm matches; a pool with neither is the default.
struct PoolConfig {
  std::string name;
  std::string first;  ///< first IPv4 address handed out
  std::string last;   ///< last IPv4 address handed out
  std::string apn;
  std::string realm;
};

struct AccessConfig {
  Endpoint auth_listen{"127.0.0.1", 1812};
  Endpoint acct_listen{"127.0.0.1", 1813};
  bool require_message_authenticator = true;  ///< BlastRADIUS (CVE-2024-3596)
  std::vector<RadiusClientConfig> clients;
  std::vector<PoolConfig> pools;
  std::uint32_t interim_interval = 300;        ///< seconds, sent as Acct-Interim-Interval
  std::uint32_t missed_interims = 3;           ///< a session silent this many intervals expires
  std::uint32_t offer_timeout = 60;            ///< an Accept's IP not used by a Start within this is freed
  std::uint32_t duplicate_cache_seconds = 30;  ///< RFC 5080 section 2.2.2
  /// Replay-safe accounting (issue 12 item 2): Starts, Interims and Accounting-On/Off whose
  /// Event-Timestamp (or Acct-Delay-Time) says they are older than this are refused.
  std::uint32_t accounting_max_age = 3600;
  std::uint32_t ended_session_memory = 86400;  ///< seconds an ended session cannot start again
  std::uint32_t max_ended_sessions = 1000000;  ///< at most this many remembered (oldest forgotten first)
  std::uint32_t max_pending_writes = 50000;  ///< requests waiting for the store; beyond, new ones are dropped
  /// seed 004 Phase II [3]: log-ins "serial@<this realm>" are boxes configuring (empty: none)
  std::string provisioning_realm;
};

/// The `mail` role (seed 000): proxies that log in on the subscriber's behalf.
struct MailConfig {
  std::optional<Endpoint> pop3_listen;        ///< POP3 (seed 000 steps 101-106)
  std::optional<Endpoint> smtp_listen;        ///< SMTP submission (seed 000 steps 201-207)
  std::optional<Endpoint> imap_listen;        ///< IMAP (RFC 9051): the same logic for today's handsets
  std::uint32_t max_message_size = 26214400;  ///< octets, advertised as SIZE (RFC 1870)
  /// Only connections from these ranges are identified by their source IP.
  std::vector<Cidr> access_ranges;
  std::uint32_t upstream_timeout = 10;         ///< seconds to connect and log in upstream
  std::uint32_t idle_timeout = 600;            ///< seconds without traffic before a session is closed
  std::uint32_t session_timeout = 14400;       ///< seconds a relayed session may last in total
  std::uint32_t pop3_command_timeout = 60;     ///< seconds waiting for a POP3 command before login
  std::uint32_t imap_command_timeout = 120;    ///< seconds waiting for an IMAP command before login
  std::uint32_t max_failures_per_minute = 10;  ///< per client IP, then refused for a minute
  /// CA certificates (PEM) that subscribers' mail servers must chain to; empty: the system store.
  std::string upstream_ca_file;
};

/// The operator's LDAP directory (seed 000 "operator LDAP (10)"), read through libldap.
struct LdapConfig {
  std::string uri = "ldap://127.0.0.1:389";  ///< ldap:// or ldaps://; several separated by spaces
  bool start_tls = false;                    ///< StartTLS (RFC 4513) on ldap:// URIs
  std::string ca_file;                       ///< CA the server's certificate must chain to
  std::string bind_dn;                       ///< empty: anonymous
  std::string bind_password;
  std::string base_dn;
  std::string filter = "(objectClass=inetOrgPerson)";  ///< ANDed with (<identity attribute>=<value>)
  std::uint32_t timeout = 5;                           ///< seconds per connect, bind or search
  std::uint32_t pool_size = 4;                         ///< connections kept open
  std::uint32_t cache_ttl = 30;                        ///< seconds; entries are also dropped at session end
  /// mobix field (msisdn, imsi, username, serial, password, framed_ip, hostname, or any
  /// attribute such as mail.address) -> LDAP attribute. Overrides single defaults.
  std::vector<std::pair<std::string, std::string>> attributes;
};

struct DirectoryConfig {
  DirectoryBackend backend = DirectoryBackend::store;
  std::optional<LdapConfig> ldap;
};

/// The seed 001 signal key shared by relay and gateway (ChaCha20-Poly1305, 32 octets in hex).
struct SignalKeyConfig {
  std::uint8_t id = 1;
  std::string key_hex;  ///< from key_file; never logged
};

/// How the relay reaches a gateway's SMPP receiver through the SMSC (seed 001 step D).
struct SmppClientConfig {
  Endpoint smsc{"127.0.0.1", 2775};
  std::string system_id;
  std::string password;
};

/// The public relay (seed 001 "first public proxy server"), on the Internet.
/// Port mapping (issue 5 item 2): a relay port dedicated to one service of one mobile server, for
/// raw TCP services that carry neither an HTTP Host header nor a TLS SNI (SSH, MQTT, ...).
struct RelayPortMap {
  Endpoint listen;
  std::string hostname;           ///< the mobile server (a subscriber's host name)
  std::uint16_t target_port = 0;  ///< its service port
};

/// Step D by e-mail at the relay: one kept SMTP session to the operator's MTA (or straight to the
/// gateway's SMTP receiver), one message per signal.
struct RelayEmailConfig {
  Endpoint smtp{"127.0.0.1", 25};
  SmtpTls tls = SmtpTls::starttls;
  std::string ca_file;             ///< the server's certificate chains to this (system store if empty)
  std::string from, to;            ///< envelope and header addresses; `to` is the gateway's mailbox
  std::string username, password;  ///< optional AUTH PLAIN, only over TLS
};

/// Step D by e-mail at the gateway: an SMTP receiver (RFC 5321) for one address.
struct GatewayEmailConfig {
  Endpoint listen;
  std::string address;                      ///< the only recipient accepted
  std::string tls_cert_file, tls_key_file;  ///< STARTTLS offered when given
  std::uint32_t command_timeout = 300;  ///< seconds waiting for the sender's next command (RFC 5321 4.5.3.2)
};

struct RelayConfig {
  Endpoint public_listen{"0.0.0.0", 8080};    ///< clients: HTTP Host or TLS SNI picks the mobile server
  std::vector<RelayPortMap> port_map;         ///< raw TCP services, one relay port each
  Endpoint callback_listen{"0.0.0.0", 7443};  ///< gateways dial back here over TLS (step G)
  std::string callback_address;               ///< announced in the signal; default: callback_listen's
  std::string tls_cert_file, tls_key_file;    ///< the callback port's certificate
  SignalKeyConfig signal_key;
  SignalChannel channel = SignalChannel::smpp;  ///< how the signal travels: SMS, HTTPS or e-mail
  RelayEmailConfig email;                       ///< channel email
  SmppClientConfig smpp;                        ///< channel smpp
  std::string gateway_msisdn;                   ///< channel smpp: the number the gateway receives signals on
  std::string webhook_url;                      ///< channel webhook: https://host:port/v1/signal
  std::string webhook_ca_file;                  ///< channel webhook: the gateway's certificate chains to this
  /// "auto": the callback leg of an end-to-end TLS service (SNI-routed) leaves TLS after the key
  /// and the client's first flight, so both proxies splice(2); "always": TLS for every tunnel.
  CallbackEncryption callback_encryption = CallbackEncryption::automatic;
  /// "leg": while the gateway's multiplexed link is up, an end-to-end TLS tunnel still gets its own
  /// leg (asked for over the link, no SMS), which leaves TLS so both proxies splice zero-copy;
  /// "link": it rides the link as a stream (no handshake per tunnel). Per service: the attribute
  /// relay.end_to_end_tls.
  EndToEndTlsPath end_to_end_tls = EndToEndTlsPath::leg;
  std::uint32_t hold_timeout = 10;              ///< seconds a client waits for its tunnel
  std::uint32_t max_pending_per_client_ip = 8;  ///< tunnels one client address may wait for at once
  std::uint32_t max_pending_per_target = 32;    ///< tunnels waiting for one mobile server at once
  // What a stranger can make the operator send (issue 12 item 1): wake-up signals per minute and
  // at once, per target (the terminal), per client address and in all.
  std::uint32_t signals_per_minute_per_target = 6, signal_burst_per_target = 3;
  std::uint32_t signals_per_minute_per_client = 10, signal_burst_per_client = 5;
  std::uint32_t signals_per_minute = 600, signal_burst = 60;
  std::uint32_t spare_legs = 1;               ///< dialled-in legs kept per target for the next clients
  std::uint32_t spare_leg_idle_timeout = 60;  ///< seconds a spare waits for a client
  std::uint32_t tunnel_idle_timeout = 300;    ///< seconds without traffic before a tunnel closes
  std::uint32_t tunnel_max_duration = 86400;  ///< seconds a tunnel may last in total
};

/// The private gateway (seed 001 "second private proxy server"), inside the operator network.
struct GatewayConfig {
  std::optional<SmppClientConfig> smpp;    ///< receive signals as SMS
  std::string address_range;               ///< destination prefix the SMSC routes to this gateway
  std::optional<Endpoint> webhook_listen;  ///< receive signals by HTTPS POST /v1/signal
  std::string webhook_cert_file, webhook_key_file;
  std::optional<GatewayEmailConfig> email;  ///< receive signals by e-mail (SMTP)
  std::vector<SignalKeyConfig> signal_keys;
  std::string relay_ca_file;  ///< the relay's callback certificate must chain to this
  std::uint32_t connect_timeout = 5;
  std::uint32_t max_signal_lifetime = 300;    ///< seconds; later expiries are refused
  std::uint32_t leg_wait_timeout = 600;       ///< seconds a dialled-in leg waits for the relay's GO
  std::uint32_t max_legs_per_link = 256;      ///< legs open at once for one signal's link
  bool multiplex = false;                     ///< one TLS link per relay, tunnels as HTTP/2 streams
  std::uint32_t link_idle_timeout = 120;      ///< seconds a multiplexed link without tunnels stays
  std::uint32_t tunnel_idle_timeout = 300;    ///< seconds without traffic before a tunnel closes
  std::uint32_t tunnel_max_duration = 86400;  ///< seconds a tunnel may last in total
};

/// A network we have a roaming agreement with (seed 002: the HLR/VLR "private network" is
/// RADIUS over TLS, RFC 6614, routed by realm, RFC 7542).
struct RoamingPartnerConfig {
  std::string name;
  std::string realm;               ///< their subscribers' realm (User-Name "alice@<realm>")
  std::string certificate_name;    ///< pinned: a DNS SAN (or the CN) their certificate must carry
  std::string certificate_sha256;  ///< optional pin of their certificate's SHA-256 (hex)
  std::optional<Endpoint> server;  ///< their RadSec server: their roamers' requests go there
};

struct RoamingConfig {
  std::vector<std::string> realms;        ///< our own subscribers' realms
  std::optional<Endpoint> radsec_listen;  ///< partners' visited networks reach us (home role) here
  std::string tls_cert_file, tls_key_file, ca_file;
  std::string crl_file;  ///< the roaming CA's CRL (PEM), re-read when it changes; empty: none
  std::vector<RoamingPartnerConfig> partners;
  std::uint32_t timeout = 5;  ///< seconds for a partner's answer
  /// RFC 5997 watchdog: an idle connection to a partner's server is probed with Status-Server after
  /// this many seconds and closed when the probe goes unanswered; 0: off.
  std::uint32_t status_server_interval = 30;
};

/// RFC 2136 + TSIG target for a zone the operator's own DNS server holds (seed 002, alternative).
struct DnsUpdateConfig {
  Endpoint server;
  std::string key_name;
  std::string key_secret;  ///< base64 (tsig-keygen); from key_secret_file; never logged
  std::string algorithm = "hmac-sha256";
  std::uint32_t batch = 100;
  std::uint32_t timeout_ms = 2000;
};

struct DnsZoneConfig {
  std::string name;
  std::string primary_ns, hostmaster;  ///< default ns1.<zone>, hostmaster.<zone>
  struct StaticRecord {
    std::string name;  ///< absolute
    std::string type;  ///< A, AAAA, NS, PTR
    std::string value;
  };
  std::vector<StaticRecord> records;
  std::optional<DnsUpdateConfig> update;  ///< set: the zone lives in that server, not the embedded one
};

/// The `dns` role (seed 002 "home/visited DNS server"): zones whose records follow the sessions.
struct DnsConfig {
  std::optional<Endpoint> listen;  ///< the embedded authoritative server (UDP+TCP); absent: none
  std::uint32_t threads = 1;
  std::uint32_t ttl = 60;  ///< seconds, for session records and the SOA minimum
  std::vector<DnsZoneConfig> zones;
  /// Visited side (seed 002 [0029]: the visited DNS also maps the name to the address): a
  /// visiting terminal's name, which lives in another network's zone, is also published here
  /// as "<host name>.<roamers_zone>". One of `zones`; empty: not published.
  std::string roamers_zone;
};

/// The connectivity service system (seed 004): the configuration manager (Phase II), wake-up
/// (Phase III) and the connectivity listener boxes call with their CB certificate.
struct CssConfig {
  std::string ca_dir;     ///< the root CA (seed 004 (i)): issues CB certificates; boxes trust its certificate
  std::string cert_file;  ///< the CSS's own certificate (OU "css"), issued by that root CA
  std::string key_file;
  std::string config_realm;                ///< the configuration log-in realm: access.provisioning_realm
  std::uint32_t box_port = 8443;           ///< boxes serve the configuration protocol here during Phase II
  Endpoint listen{"127.0.0.1", 8444};      ///< the connectivity listener (Phase III, later CONNECT)
  std::optional<Endpoint> public_address;  ///< what boxes are told (parameters 191); default: listen
  std::string access_realm;                ///< boxes' normal access log-ins are "<CB ID>@<this realm>"
  std::uint32_t download_timeout = 10;     ///< seconds for one Phase II download
  std::uint32_t wakeup_delay = 2;          ///< seconds after Phase II before the wake-up (step [6])
  std::uint32_t callback_timeout = 120;    ///< seconds for the box to call back (Phase III)
  std::uint32_t connected_timeout = 5;     ///< parameters 191: seconds a box stays connected when idle
  std::uint32_t cert_days = 397;
  std::uint32_t max_concurrent_downloads = 64;
  SmppClientConfig wakeup_smsc;           ///< wake-up SMS (seed 004 Phase III; the pager variant)
  std::string wakeup_source = "MOBIX";    ///< the SMS's originating address
  std::uint32_t wakeups_per_second = 50;  ///< SMS cost money: at most this many per second
};

/// The Home Agent (seed 003, RFC 5944): Mobile IPv4 registrations of the devices' home addresses.
struct HomeAgentConfig {
  Endpoint listen{"0.0.0.0", 434};
  std::string address;                         ///< the Home Agent address requests carry; default: listen's
  std::uint32_t max_lifetime = 1800;           ///< seconds granted at most (longer requests get this)
  std::uint32_t replay_window = 7;             ///< seconds of clock difference accepted (RFC 5944 5.7)
  std::uint32_t max_bindings = 1000000;        ///< more registrations are refused (code 130)
  std::uint32_t per_source_per_minute = 6000;  ///< requests per source address (a foreign agent relays many)
  std::uint32_t per_source_burst = 200;
  std::uint32_t key_cache_seconds = 60;  ///< a changed Mobile IP key takes effect within this
};

/// Seed 003's Kerberos realm, for every role of the node that uses it (the library is set once per
/// process: KRB5_CONFIG).
struct KerberosConfig {
  std::string realm;        ///< devices are "<identity code>@<realm>"
  std::string config_file;  ///< krb5.conf naming the realm's KDCs
  std::string rcache_dir;   ///< the acceptors' replay caches (default: the library's)
};

/// The initiating database (seed 003, the "telephone directory"): a device's initiating
/// information, served over HTTPS only to the device's own Kerberos principal (SPNEGO, RFC 4559).
struct InitiatingDbConfig {
  Endpoint listen{"127.0.0.1", 8449};
  std::string cert_file, key_file;  ///< its TLS certificate (the operator's PKI)
  std::string keytab;               ///< HTTP/<host>@REALM's key
  Endpoint home_agent;              ///< handed out: where the device's proxy registers (UDP)
  std::string home_agent_address;   ///< the Home Agent address its requests carry
  std::uint32_t per_source_per_minute = 600;
  std::uint32_t per_source_burst = 60;
};

/// The billing (debiting) service (seed 003 claims 2-3): charges posted over HTTPS + SPNEGO, each
/// bound to the Kerberos principal that posted it, written durably, a retried post one charge.
struct BillingConfig {
  Endpoint listen{"127.0.0.1", 8451};
  std::string cert_file, key_file, keytab;
  std::uint32_t per_source_per_minute = 6000;
  std::uint32_t per_source_burst = 200;
};

/// The mobility manager (seed 003's proxy manager): base stations report devices on and off; it
/// fetches each device's initiating information with the device's Kerberos identity and represents
/// the device on the IP network (Mobile IP towards the Home Agent).
struct MobilityManagerConfig {
  Endpoint listen{"127.0.0.1", 8450};       ///< base stations report here (HTTP)
  std::vector<Cidr> base_stations;          ///< only these may report (trusted ranges)
  std::string keytab;                       ///< the devices' keys (claim 1: the identity code's principal)
  Endpoint initiating_db;                   ///< host:port of the initiating database (HTTPS)
  std::string initiating_db_host;           ///< its name: TLS host name and HTTP@<host> service principal
  std::string ca_file;                      ///< verifies the initiating database's certificate
  std::uint32_t device_timeout = 300;       ///< seconds without a report before a device's proxy stops
  std::uint32_t mip_lifetime = 600;         ///< seconds of Mobile IP registration asked for
  std::uint32_t bootstrap_threads = 4;      ///< Kerberos exchanges in parallel (they block on the KDC)
  std::uint32_t bootstraps_in_flight = 32;  ///< devices bootstrapping at once; the others queue
  std::uint32_t retry_max = 60;             ///< seconds between bootstrap attempts at most (backoff from 1 s)
  std::optional<Endpoint> billing;          ///< the billing service (HTTPS); absent: calls are not charged
  std::string billing_host;                 ///< its name (TLS and HTTP@<host>); default: its host
  std::optional<Endpoint> sip_listen;       ///< secure calls (SIP over UDP and TCP); absent: no calls
  std::optional<Endpoint> sip_tls_listen;   ///< SIP over TLS for the phones; absent: none
  std::string sip_tls_cert, sip_tls_key;    ///< its certificate chain and key (PEM files)
  std::optional<Endpoint> sip_peer;         ///< INVITEs for devices not represented here
  std::uint32_t max_calls = 1000;
  std::uint32_t max_call_seconds = 14400;
  std::uint32_t sip_per_source_per_minute = 600;
  std::uint32_t sip_per_source_burst = 60;
  std::uint32_t sip_tcp_idle_seconds = 600;
  std::uint32_t sip_t1_ms = 500;  ///< RFC 3261 T1; Timers B, F and H are 64*T1
};

struct Config {
  std::string source;  ///< the file it came from
  std::string node_name = "mobix";
  LogConfig log;
  LimitsConfig limits;
  StoreConfig store;
  AdminConfig admin;
  DirectoryConfig directory;
  std::optional<AccessConfig> access;
  std::optional<MailConfig> mail;
  std::optional<RelayConfig> relay;
  std::optional<GatewayConfig> gateway;
  std::optional<DnsConfig> dns;
  std::optional<RoamingConfig> roaming;
  std::optional<CssConfig> css;
  std::optional<HomeAgentConfig> home_agent;
  std::optional<KerberosConfig> kerberos;
  std::optional<InitiatingDbConfig> initiating_db;
  std::optional<MobilityManagerConfig> mobility_manager;
  std::optional<BillingConfig> billing;
};

// Parsing: core/config_section.hpp (Section, the tables) and node/config_sections.hpp (the whole file).

}  // namespace mobix
