#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <optional>
#include <string>

#include "directory/directory.hpp"
#include "directory/ldap_directory.hpp"
#include "directory/ldap_entry.hpp"
#include "test_util.hpp"

using namespace mobix;

TEST(Directory, NormalizesMsisdn) {
  EXPECT_EQ(normalize_msisdn("+31 6-1000 0001"), "31610000001");
  EXPECT_EQ(normalize_msisdn("31610000001"), "31610000001");
  EXPECT_EQ(normalize_msisdn("alice"), "");
  EXPECT_EQ(normalize_msisdn("1234567890123456"), "") << "E.164 has at most 15 digits";
}

TEST(Directory, ValidatesProfiles) {
  Subscriber s;
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument) << "no identity";
  s.msisdn = "+31 610000001";
  validate_subscriber(s);
  EXPECT_EQ(s.msisdn, "31610000001");
  s.framed_ip = "10.0.0.300";
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument);
  s.framed_ip = "";
  s.hostname = "bad_host!";
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument);
  s.hostname = "phone1.home.test";
  s.imsi = "12ab";
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument);
}

TEST(Directory, FindsByAnyIdentity) {
  test::TempDir d;
  auto store = Store::open_sqlite(d.file("a.db"));
  StoreDirectory dir(*store);
  Subscriber s;
  s.msisdn = "+31610000001";
  s.imsi = "204080000000001";
  s.username = "alice";
  s.serial = "CB-0001";
  dir.add(s);
  EXPECT_EQ(dir.find("+31 610000001")->username, "alice");
  EXPECT_EQ(dir.find("204080000000001")->username, "alice");
  EXPECT_EQ(dir.find("alice")->msisdn, "31610000001");
  EXPECT_EQ(dir.find("CB-0001")->username, "alice");
  EXPECT_FALSE(dir.find("nobody"));
  EXPECT_FALSE(dir.find(""));
}

TEST(Directory, FindsMobileServersByHostNameCaseInsensitively) {
  test::TempDir d;
  auto store = Store::open_sqlite(d.file("a.db"));
  StoreDirectory dir(*store);
  Subscriber s;
  s.msisdn = "31610000001";
  s.hostname = "Cam.Mobile.Example";
  dir.add(s);
  auto found = dir.find(IdentityKind::hostname, "cam.mobile.example");
  ASSERT_TRUE(found) << "host names are stored lower-case (the relay's peekers lower-case what they read)";
  EXPECT_EQ(found->msisdn, "31610000001");
  EXPECT_FALSE(dir.find(IdentityKind::hostname, "other.mobile.example"));
}

namespace {
// An LDAP entry as the mapping sees it: attribute -> first value.
LdapFirstValue entry(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& attr) -> std::optional<std::string> {
    auto it = values.find(attr);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST(LdapEntry, MapsAndNormalises) {
  auto s = subscriber_from_entry("uid=alice,dc=test", default_ldap_attributes(),
                                 entry({{"mobile", "+31 6 1000 0001"},
                                        {"uid", "alice"},
                                        {"mobixFramedIp", "10.64.0.9"},
                                        {"mobixHostname", "Alice-Phone"},
                                        {"mobixMailPop3Tls", "none"},
                                        {"mail", "alice@mail.test"}}));
  EXPECT_EQ(s.msisdn, "31610000001");
  EXPECT_EQ(s.username, "alice");
  EXPECT_EQ(s.hostname, "alice-phone");
  EXPECT_EQ(s.attrs.at("mail.address"), "alice@mail.test");
  EXPECT_EQ(s.id, id_from_dn("uid=alice,dc=test"));
  EXPECT_GT(s.id, 0);
}

TEST(LdapEntry, RefusesValuesThatBreakTheRulesNamingTheAttribute) {
  const auto map = default_ldap_attributes();
  auto refusal = [&](std::map<std::string, std::string> values) -> std::string {
    try {
      subscriber_from_entry("uid=x,dc=test", map, entry(std::move(values)));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  // An MSISDN the signal codec could not carry (the relay's bad_signal_fields), from the directory.
  EXPECT_EQ(
      refusal({{"mobile", "+31 6 1000 0001 0000 99"}, {"uid", "x"}}).rfind("attribute mobile: msisdn:", 0),
      0u);
  EXPECT_EQ(refusal({{"uid", "x"}, {"mobixFramedIp", "10.0.0.300"}}).rfind("attribute mobixFramedIp:", 0),
            0u);
  // A CR LF in a mail password would add a command to the upstream login; the secret is not quoted.
  auto crlf = refusal({{"uid", "x"}, {"mobixMailPassword", "pw\r\nQUIT"}});
  EXPECT_NE(crlf.find("mail.password"), std::string::npos) << crlf;
  EXPECT_EQ(crlf.find("QUIT"), std::string::npos) << crlf;
  EXPECT_NE(refusal({{"uid", "x"}, {"mobixMailImapTls", "plain"}}), "accepted");
  EXPECT_NE(refusal({{"mail", "nobody@mail.test"}}), "accepted") << "no identity at all";
}

TEST(LdapEntry, DevicesSitUnderTheirSubscriber) {
  EXPECT_EQ(parent_dn("mobixIdentityCode=IPUI-1,uid=alice,dc=test"), "uid=alice,dc=test");
  EXPECT_EQ(parent_dn("cn=a\\,b,uid=alice,dc=test"), "uid=alice,dc=test") << "an escaped comma (RFC 4514)";
  EXPECT_EQ(parent_dn("dc=test"), "");
  auto d = device_from_entry("mobixIdentityCode=IPUI-1,uid=alice,dc=test",
                             entry({{"mobixIdentityCode", "IPUI-0001"},
                                    {"mobixHomeAddress", "10.64.0.7"},
                                    {"mobixMipSpi", "300"},
                                    {"mobixMipKey", "00112233445566778899aabbccddeeff"}}));
  EXPECT_EQ(d.subscriber_id, id_from_dn("uid=alice,dc=test"));
  EXPECT_EQ(d.mip_spi, 300u);
  EXPECT_EQ(device_from_entry("mobixIdentityCode=IPUI-1,uid=alice,dc=test",
                              entry({{"mobixIdentityCode", "IPUI-0001"},
                                     {"mobixHomeAddress", "10.64.0.7"},
                                     {"mobixMipKey", "00112233445566778899aabbccddeeff"}}))
                .mip_spi,
            256u)
      << "the RFC's smallest SPI by default";
  auto refusal = [](std::map<std::string, std::string> values) -> std::string {
    try {
      device_from_entry("mobixIdentityCode=x,uid=alice,dc=test", entry(std::move(values)));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "accepted";
  };
  const std::string key = "00112233445566778899aabbccddeeff";
  auto bad_key =
      refusal({{"mobixIdentityCode", "IPUI-0001"}, {"mobixHomeAddress", "10.64.0.7"}, {"mobixMipKey", "zz"}});
  EXPECT_EQ(bad_key.rfind("attribute mobixMipKey:", 0), 0u) << bad_key;
  EXPECT_EQ(bad_key.find("zz"), std::string::npos) << "the key is never quoted";
  EXPECT_EQ(refusal({{"mobixIdentityCode", "IPUI-0001"},
                     {"mobixHomeAddress", "10.64.0.7"},
                     {"mobixMipKey", key},
                     {"mobixMipSpi", "255"}})
                .rfind("attribute mobixMipSpi:", 0),
            0u);
  EXPECT_EQ(refusal({{"mobixIdentityCode", "IPUI-0001"},
                     {"mobixHomeAddress", "10.64.0.7"},
                     {"mobixMipKey", key},
                     {"mobixMipSpi", "99999999999"}})
                .rfind("attribute mobixMipSpi:", 0),
            0u);
  EXPECT_EQ(refusal({{"mobixIdentityCode", "a b"}, {"mobixHomeAddress", "10.64.0.7"}, {"mobixMipKey", key}})
                .rfind("attribute mobixIdentityCode:", 0),
            0u);
  EXPECT_EQ(
      refusal({{"mobixIdentityCode", "IPUI-0001"}, {"mobixHomeAddress", "0.0.0.0"}, {"mobixMipKey", key}})
          .rfind("attribute mobixHomeAddress:", 0),
      0u);
}

// A server that accepted the connection and then says nothing (a hung slapd: the kernel completes
// the TCP handshake for it). libldap bounds its connect and its result waits, not a TLS handshake:
// without the socket deadline this lookup spun for ever. It must fail as "unavailable", in about the
// configured timeout (ctest's own limit ends the test if it hangs).
TEST(LdapDirectory, AServerThatNeverAnswersIsUnavailableNotAHang) {
  // As in mobix's main(): libldap writes (an unbind, a TLS alert) on the socket that was shut down.
  std::signal(SIGPIPE, SIG_IGN);
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  for (std::string scheme : {"ldaps", "ldap"}) {
    LdapConfig cfg;
    cfg.uri = scheme + "://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    cfg.base_dn = "dc=test";
    cfg.timeout = 1;
    LdapDirectory dir(cfg);
    EXPECT_THROW(dir.find(IdentityKind::msisdn, "31610000001"), DirectoryUnavailable) << scheme;
  }
  ::close(listener);
}
