#include <gtest/gtest.h>

#include "directory/directory.hpp"
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
