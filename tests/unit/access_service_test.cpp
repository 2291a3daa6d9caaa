#include <gtest/gtest.h>

#include "access/access_service.hpp"
#include "test_util.hpp"

using namespace mobix;

namespace {
struct Fixture : ::testing::Test {
  test::TempDir dir;
  std::unique_ptr<Store> store = Store::open_sqlite(dir.file("s.db"));
  StoreDirectory directory{*store};
  SessionTable table{[n = 0]() mutable { return "s" + std::to_string(++n); }};
  AccessConfig cfg = [] {
    AccessConfig c;
    c.pools = {PoolConfig{"inet", "10.0.0.1", "10.0.0.2", "internet", ""}};
    c.offer_timeout = 60;
    c.interim_interval = 100;
    c.missed_interims = 3;
    return c;
  }();
  AccessService svc{cfg, directory, table};

  void SetUp() override {
    Subscriber s;
    s.msisdn = "31610000001";
    s.username = "alice";
    s.password = "alice-pw";
    directory.add(s);
    Subscriber b;
    b.msisdn = "31610000002";
    b.username = "bob";
    b.password = "bob-pw";
    b.framed_ip = "192.0.2.7";
    directory.add(b);
  }
  AuthInput auth(std::string user, std::string pw) {
    AuthInput in;
    in.username = std::move(user);
    in.apn = "internet";
    in.has_credentials = true;
    in.check_password = [pw](const std::string& stored) { return stored == pw; };
    return in;
  }
};
}  // namespace

TEST_F(Fixture, AcceptsGoodPasswordWithPoolAddress) {
  auto d = svc.authorize(auth("alice", "alice-pw"), 1000);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.framed_ip, "10.0.0.1");
  ASSERT_EQ(d.changes.size(), 1u);
  EXPECT_EQ(d.changes[0].kind, Change::Kind::put_lease);
}

TEST_F(Fixture, RealmSuffixFindsLocalUser) {
  EXPECT_TRUE(svc.authorize(auth("alice@home.test", "alice-pw"), 1).accept);
}

TEST_F(Fixture, RejectsBadPasswordUnknownAndMissingCredentials) {
  auto d = svc.authorize(auth("alice", "nope"), 1);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.metric_reason, "bad_password");
  d = svc.authorize(auth("mallory", "x"), 1);
  EXPECT_EQ(d.metric_reason, "unknown_subscriber");
  auto in = auth("alice", "alice-pw");
  in.has_credentials = false;
  EXPECT_EQ(svc.authorize(in, 1).metric_reason, "no_credentials");
}

TEST_F(Fixture, FixedAddressBypassesPool) {
  auto d = svc.authorize(auth("bob", "bob-pw"), 1);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.framed_ip, "192.0.2.7");
  EXPECT_TRUE(d.changes.empty());
}

TEST_F(Fixture, StopFreesTheLeaseAndExpiryEndsSilentSessions) {
  auto d = svc.authorize(auth("alice", "alice-pw"), 1000);
  AcctInput in;
  in.nas = "ggsn";
  in.apn = "internet";
  in.ipv4 = d.framed_ip;
  in.msisdn = "31610000001";
  in.acct_session_id = "X1";
  auto out = svc.account_start(in, 1000);
  EXPECT_EQ(table.find_by_ip(d.framed_ip)->subscriber_id, d.subscriber_id);
  out = svc.account_stop(in, 1010);
  bool freed = false;
  for (auto& c : out.changes) freed |= c.kind == Change::Kind::free_lease && c.lease.ip == d.framed_ip;
  EXPECT_TRUE(freed);
  // Re-attach (a new accounting session: X1 has ended for good), then stay silent for more than 3
  // intervals.
  in.acct_session_id = "X2";
  svc.account_start(in, 2000);
  EXPECT_TRUE(svc.expire_sessions(2000 + 299).events.empty());
  auto swept = svc.expire_sessions(2000 + 301);
  ASSERT_EQ(swept.events.size(), 1u);
  EXPECT_EQ(swept.events[0].reason, "expired");
}

TEST_F(Fixture, PoolExhaustionIsAReject) {
  for (int i = 0; i < 2; ++i) {
    Subscriber s;
    s.username = "u" + std::to_string(i);
    s.password = "pw";
    directory.add(s);
    ASSERT_TRUE(svc.authorize(auth(s.username, "pw"), 1).accept);
  }
  auto d = svc.authorize(auth("alice", "alice-pw"), 1);
  EXPECT_FALSE(d.accept);
  EXPECT_EQ(d.metric_reason, "pool_exhausted");
}

namespace {
struct RoamingFixture : Fixture {
  RoamingConfig roaming = [] {
    RoamingConfig r;
    r.realms = {"home.test"};
    r.partners = {
        RoamingPartnerConfig{"visited", "visited.test", "radsec.visited.test", "", std::nullopt},
        RoamingPartnerConfig{"other", "other.test", "radsec.other.test", "", Endpoint{"127.0.0.1", 2083}}};
    return r;
  }();
  AccessService roam{cfg, directory, table, &roaming};
};
}  // namespace

TEST_F(RoamingFixture, RealmsAndPartners) {
  EXPECT_EQ(AccessService::realm_of("alice@Home.Test"), "home.test");
  EXPECT_EQ(AccessService::realm_of("alice"), "");
  EXPECT_TRUE(roam.is_own_realm("alice"));
  EXPECT_TRUE(roam.is_own_realm("alice@HOME.test"));
  EXPECT_FALSE(roam.is_own_realm("zed@visited.test"));
  ASSERT_NE(roam.partner_for("zed@Other.Test"), nullptr);
  EXPECT_EQ(roam.partner_for("zed@other.test")->name, "other");
  EXPECT_EQ(roam.partner_for("alice@home.test"), nullptr);
  EXPECT_EQ(roam.partner_for("zed@nowhere.test"), nullptr);
  // Stable, negative (never a subscriber id), case-insensitive, distinct per NAI.
  EXPECT_LT(AccessService::roamer_id("zed@other.test"), 0);
  EXPECT_EQ(AccessService::roamer_id("zed@other.test"), AccessService::roamer_id("ZED@Other.test"));
  EXPECT_NE(AccessService::roamer_id("zed@other.test"), AccessService::roamer_id("zoe@other.test"));
}

TEST_F(RoamingFixture, HomeAnswersPartnersWithTheHostNameAndNoAddress) {
  auto alice = *directory.find(IdentityKind::username, "alice");
  alice.hostname = "alice.home.test";
  directory.update(alice);
  auto in = auth("alice@home.test", "alice-pw");
  in.from_roaming_partner = true;
  auto d = roam.authorize(in, 1);
  EXPECT_TRUE(d.accept);
  EXPECT_EQ(d.hostname, "alice.home.test");
  EXPECT_TRUE(d.framed_ip.empty()) << "the visited network assigns the address (seed 002 [0029])";
  EXPECT_TRUE(d.changes.empty());
  auto bad = auth("alice@home.test", "wrong");
  bad.from_roaming_partner = true;
  EXPECT_FALSE(roam.authorize(bad, 1).accept);
  alice.attrs["roaming"] = "false";
  directory.update(alice);
  auto barred = roam.authorize(in, 1);
  EXPECT_FALSE(barred.accept);
  EXPECT_EQ(barred.metric_reason, "roaming_not_allowed");
}

TEST_F(RoamingFixture, VisitedOffersRoamersTheirOwnAddress) {
  auto a = roam.offer_roamer("zed@other.test", "internet", 1);
  ASSERT_TRUE(a.accept);
  auto again = roam.offer_roamer("zed@other.test", "internet", 2);
  EXPECT_EQ(again.framed_ip, a.framed_ip) << "a re-attach gets the same address";
  auto b = roam.offer_roamer("zoe@other.test", "internet", 2);
  ASSERT_TRUE(b.accept);
  EXPECT_NE(b.framed_ip, a.framed_ip);
  EXPECT_FALSE(roam.offer_roamer("zip@other.test", "internet", 2).accept)
      << "a two-address pool is exhausted";
  // The roamer's session is keyed to its NAI, so the lease binds to the same pool key.
  AcctInput start;
  start.nas = "n";
  start.apn = "internet";
  start.ipv4 = a.framed_ip;
  start.username = "zed@other.test";
  start.hostname = "zed.other.test";
  start.acct_session_id = "1";
  auto out = roam.account_start(start, 3);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].session.subscriber_id, AccessService::roamer_id("zed@other.test"));
  EXPECT_EQ(out.events[0].session.hostname, "zed.other.test");
}
