#include <gtest/gtest.h>

#include <fstream>

#include "core/config.hpp"
#include "node/config_sections.hpp"
#include "test_util.hpp"

using namespace mobix;

namespace {
const char* kGood = R"(node: edge-1
admin:
  listen: 127.0.0.1:9100
  no_token: true
access:
  radius:
    auth_listen: 0.0.0.0:1812
    acct_listen: "[::1]:1813"
    clients:
      - name: ggsn1
        address: 10.10.0.0/16
        secret: testing123456
  pools:
    - name: internet
      range: 10.64.0.0/24
      apn: internet
)";

int error_line(const std::string& yaml, std::string* key = nullptr) {
  try {
    parse_config(yaml, "/tmp/x.yaml");
  } catch (const ConfigError& e) {
    if (key) *key = e.key();
    return e.line();
  }
  return -1;
}
}  // namespace

TEST(Config, ParsesAGoodFile) {
  auto c = parse_config(kGood, "/tmp/x.yaml");
  EXPECT_EQ(c.node_name, "edge-1");
  ASSERT_TRUE(c.access);
  EXPECT_EQ(c.access->acct_listen.host, "::1");
  EXPECT_EQ(c.access->acct_listen.port, 1813);
  EXPECT_EQ(c.access->clients[0].network.str(), "10.10.0.0/16");
  EXPECT_EQ(c.access->pools[0].first, "10.64.0.1");
  EXPECT_EQ(c.access->pools[0].last, "10.64.0.254");
  EXPECT_TRUE(c.access->require_message_authenticator);
  EXPECT_EQ(c.store.path, "/tmp/mobix.db");
}

TEST(Config, UnknownKeyNamesLineAndKey) {
  std::string key;
  std::string yaml = kGood;
  yaml += "bogus: 1\n";
  EXPECT_EQ(error_line(yaml, &key), 17);
  EXPECT_EQ(key, "bogus");
  yaml = std::string(kGood);
  yaml.replace(yaml.find("        secret"), 0, "        colour: red\n");
  EXPECT_EQ(error_line(yaml, &key), 12);
  EXPECT_EQ(key, "access.radius.clients[0].colour");
}

TEST(Config, BadValuesAreErrors) {
  std::string key;
  std::string y = kGood;
  y.replace(y.find("127.0.0.1:9100"), 14, "localhost:9100");
  EXPECT_EQ(error_line(y, &key), 3);
  EXPECT_EQ(key, "admin.listen");
  y = kGood;
  y.replace(y.find("10.10.0.0/16"), 12, "10.10.0.0/99");
  EXPECT_GT(error_line(y, &key), 0);
  EXPECT_EQ(key, "access.radius.clients[0].address");
  y = kGood;
  y.replace(y.find("testing123456"), 13, "short");
  EXPECT_GT(error_line(y, &key), 0);
  EXPECT_EQ(key, "access.radius.clients[0].secret");
  EXPECT_GT(error_line("node: [unclosed\n", &key), 0);
  EXPECT_EQ(error_line("", &key), 1);
}

TEST(Config, DirectoryBackendIsOneLine) {
  std::string key;
  auto c = parse_config(std::string(kGood) + R"(directory:
  backend: ldap
  ldap:
    uri: ldaps://ldap.operator.test:636
    base_dn: ou=subscribers,dc=operator,dc=test
    bind_dn: cn=mobix,dc=operator,dc=test
    bind_password: secret
    attributes: {msisdn: telephoneNumber, mail.user: uid}
)",
                        "/tmp/x.yaml");
  EXPECT_EQ(c.directory.backend, mobix::DirectoryBackend::ldap);
  ASSERT_TRUE(c.directory.ldap);
  EXPECT_EQ(c.directory.ldap->uri, "ldaps://ldap.operator.test:636");
  EXPECT_EQ(c.directory.ldap->filter, "(objectClass=inetOrgPerson)");
  ASSERT_EQ(c.directory.ldap->attributes.size(), 2u);
  EXPECT_EQ(c.directory.ldap->attributes[0].second, "telephoneNumber");
  EXPECT_EQ(parse_config(kGood, "/tmp/x.yaml").directory.backend, mobix::DirectoryBackend::store)
      << "the embedded store by default";

  EXPECT_GT(error_line(std::string(kGood) + "directory: {backend: ldap}\n", &key), 0);
  EXPECT_EQ(key, "directory.ldap");
  EXPECT_GT(error_line(std::string(kGood) + "directory: {backend: nis}\n", &key), 0);
  EXPECT_EQ(key, "directory.backend");
  EXPECT_GT(error_line(std::string(kGood) + "directory: {ldap: {uri: http://x, base_dn: dc=x}}\n", &key), 0);
  EXPECT_EQ(key, "directory.ldap.uri");
  EXPECT_GT(
      error_line(std::string(kGood) + "directory: {ldap: {base_dn: dc=x, filter: objectClass=x}}\n", &key),
      0);
  EXPECT_EQ(key, "directory.ldap.filter");
}

TEST(Config, DnsZonesAndUpdates) {
  auto c = parse_config(std::string(kGood) + R"(dns:
  listen: 127.0.0.1:5353
  zones:
    - name: home.test.
      records: ["www A 192.0.2.80", "@ NS ns2.elsewhere.", "host.home.test. A 192.0.2.1"]
    - name: phones.test
      update: {server: "127.0.0.1:53", key_name: mobix, key_secret: c2VjcmV0c2VjcmV0c2VjcmV0}
)",
                        "/tmp/x.yaml");
  ASSERT_TRUE(c.dns);
  ASSERT_EQ(c.dns->zones.size(), 2u);
  EXPECT_EQ(c.dns->zones[0].name, "home.test");
  EXPECT_EQ(c.dns->zones[0].records[0].name, "www.home.test");
  EXPECT_EQ(c.dns->zones[0].records[1].name, "home.test");
  EXPECT_EQ(c.dns->zones[0].records[2].name, "host.home.test.") << "absolute names are kept";
  ASSERT_TRUE(c.dns->zones[1].update);
  EXPECT_EQ(c.dns->zones[1].update->algorithm, "hmac-sha256");
  std::string key;
  EXPECT_GT(
      error_line(std::string(kGood) + "dns:\n  zones: [{name: a.test, records: [\"www MX 10 mail\"]}]\n",
                 &key),
      0);
  EXPECT_EQ(key, "dns.zones[0].records[0]");
  // What the zone set would refuse at start is refused while parsing (check-config runs it too).
  for (const char* bad :
       {"www A 999.1.1.1", "www AAAA 192.0.2.1", "www A 2001:db8::1", "host.other. A 192.0.2.1"}) {
    key.clear();
    EXPECT_GT(error_line(std::string(kGood) + "dns:\n  zones: [{name: a.test, records: [\"" + bad + "\"]}]\n",
                         &key),
              0)
        << bad;
    EXPECT_EQ(key, "dns.zones[0].records[0]") << bad;
  }
  EXPECT_GT(error_line(std::string(kGood) + "dns:\n  zones: [{name: a.test}, {name: A.test.}]\n", &key), 0);
  EXPECT_EQ(key, "dns.zones[1].name") << "a zone given twice";
  EXPECT_GT(
      error_line(std::string(kGood) +
                     "dns:\n  zones: [{name: a.test, update: {server: \"127.0.0.1:53\", key_name: k}}]\n",
                 &key),
      0);
  EXPECT_EQ(key, "dns.zones[0].update.key_secret") << "updates are always signed";
  EXPECT_GT(error_line("admin: {no_token: true}\ndns:\n  zones: [{name: a.test}]\n", &key), 0);
  EXPECT_EQ(key, "dns") << "the zones follow the access sessions";
}

TEST(Config, RoamingPartnersArePinned) {
  const std::string base = std::string(kGood) + R"(roaming:
  realms: [Home.Test]
  tls_cert_file: /etc/hostname
  tls_key_file: /etc/hostname
  ca_file: /etc/hostname
)";
  auto c = parse_config(base +
                            "  partners: [{name: v, realm: Visited.Test, certificate_name: radsec.v.test, "
                            "server: \"127.0.0.1:2083\"}]\n",
                        "/tmp/x.yaml");
  ASSERT_TRUE(c.roaming);
  EXPECT_EQ(c.roaming->realms[0], "home.test");
  EXPECT_EQ(c.roaming->partners[0].realm, "visited.test");
  ASSERT_TRUE(c.roaming->partners[0].server);
  std::string key;
  EXPECT_GT(error_line(base + "  partners: [{name: v, realm: v.test}]\n", &key), 0);
  EXPECT_EQ(key, "roaming.partners[0].certificate_name") << "an unpinned partner is refused";
  EXPECT_GT(error_line(base + "  partners: [{name: v, realm: home.test, certificate_name: x}]\n", &key), 0);
  EXPECT_EQ(key, "roaming.partners[0].realm");
  EXPECT_GT(error_line(base + "  partners: [{name: v, realm: v.test, certificate_sha256: abcd}]\n", &key), 0);
  EXPECT_EQ(key, "roaming.partners[0].certificate_sha256");
}

namespace {
// A relay section with every required field (the certificate paths only need to be readable).
std::string relay_yaml(const std::string& extra) {
  return "admin: {no_token: true}\nrelay:\n  callback_address: 192.0.2.7\n  tls_cert_file: /etc/passwd\n  "
         "tls_key_file: /etc/passwd\n"
         "  signal_key: {id: 1, key: " +
         std::string(64, 'a') + "}\n" + extra;
}
}  // namespace

TEST(Config, RelayEmailChannelAndPortMap) {
  auto c =
      parse_config(relay_yaml("  channel: email\n"
                              "  email: {smtp: \"192.0.2.25:25\", from: relay@r.test, to: signals@gw.test}\n"
                              "  port_map:\n"
                              "    - {listen: \"0.0.0.0:2222\", hostname: cam.test, target_port: 22}\n"),
                   "/tmp/x.yaml");
  ASSERT_TRUE(c.relay);
  EXPECT_EQ(c.relay->channel, mobix::SignalChannel::email);
  EXPECT_EQ(c.relay->email.tls, mobix::SmtpTls::starttls);  // TLS by default
  EXPECT_EQ(c.relay->email.to, "signals@gw.test");
  ASSERT_EQ(c.relay->port_map.size(), 1u);
  EXPECT_EQ(c.relay->port_map[0].listen.port, 2222);
  EXPECT_EQ(c.relay->port_map[0].target_port, 22);
  EXPECT_EQ(c.relay->callback_encryption,
            mobix::CallbackEncryption::automatic);  // end-to-end TLS services are spliced
}

TEST(Config, RelayEmailAndPortMapMistakes) {
  std::string key;
  EXPECT_GT(error_line(relay_yaml("  channel: email\n"), &key), 0);
  EXPECT_EQ(key, "relay.email");
  EXPECT_GT(
      error_line(relay_yaml("  channel: email\n  email: {from: relay@r.test, to: \"x <y@z>\"}\n"), &key), 0);
  EXPECT_EQ(key, "relay.email.to");
  EXPECT_GT(error_line(relay_yaml("  channel: email\n  email: {from: a@b, to: c@d, tls: none, username: u, "
                                  "password: p}\n"),
                       &key),
            0);
  EXPECT_EQ(key, "relay.email.username");  // no AUTH in clear text
  EXPECT_GT(error_line(relay_yaml("  channel: webhook\n  webhook_url: https://192.0.2.1:9443/v1/signal\n"
                                  "  port_map: [{listen: \"0.0.0.0:2222\", hostname: cam.test}]\n"),
                       &key),
            0);
  EXPECT_EQ(key, "relay.port_map[0].target_port");
  EXPECT_GT(error_line(relay_yaml("  channel: webhook\n  webhook_url: https://192.0.2.1:9443/v1/signal\n"
                                  "  callback_encryption: never\n"),
                       &key),
            0);
  EXPECT_EQ(key, "relay.callback_encryption");
  EXPECT_GT(error_line(relay_yaml("  channel: pigeon\n"), &key), 0);
  EXPECT_EQ(key, "relay.channel");
}

// SIP over TLS for the phones: the listener needs the call listener, its certificate and key; a
// certificate without the listener is a mistake, not silently ignored.
TEST(Config, SipOverTlsNeedsItsListenerCertificateAndKey) {
  test::TempDir dir;
  for (const char* f : {"krb5.conf", "mm.keytab", "ca.crt", "sip.crt", "sip.key"})
    std::ofstream(dir.file(f)) << "x";
  auto mm = [&](const std::string& extra) {
    return "admin: {no_token: true}\nkerberos: {realm: T.TEST, config: " + dir.file("krb5.conf") +
           "}\nmobility_manager:\n  base_stations: [127.0.0.1]\n  keytab: " + dir.file("mm.keytab") +
           "\n  initiating_db: 127.0.0.1:8443\n  ca: " + dir.file("ca.crt") + "\n" + extra;
  };
  auto c =
      parse_config(mm("  sip_listen: 127.0.0.1:5060\n  sip_tls_listen: 127.0.0.1:5061\n  sip_tls_cert: " +
                      dir.file("sip.crt") + "\n  sip_tls_key: " + dir.file("sip.key") + "\n"),
                   dir.file("mobix.yaml"));
  ASSERT_TRUE(c.mobility_manager && c.mobility_manager->sip_tls_listen);
  EXPECT_EQ(c.mobility_manager->sip_tls_listen->port, 5061);
  EXPECT_EQ(c.mobility_manager->sip_tls_cert, dir.file("sip.crt"));
  std::string key;
  EXPECT_GT(error_line(mm("  sip_tls_listen: 127.0.0.1:5061\n  sip_tls_cert: " + dir.file("sip.crt") +
                          "\n  sip_tls_key: " + dir.file("sip.key") + "\n"),
                       &key),
            0);
  EXPECT_EQ(key, "mobility_manager.sip_tls_listen");  // without sip_listen
  EXPECT_GT(error_line(mm("  sip_listen: 127.0.0.1:5060\n  sip_tls_listen: 127.0.0.1:5061\n  sip_tls_cert: " +
                          dir.file("sip.crt") + "\n"),
                       &key),
            0);
  EXPECT_EQ(key, "mobility_manager.sip_tls_key");  // no key
  EXPECT_GT(
      error_line(mm("  sip_listen: 127.0.0.1:5060\n  sip_tls_cert: " + dir.file("sip.crt") + "\n"), &key), 0);
  EXPECT_EQ(key, "mobility_manager.sip_tls_cert");  // no listener
}
