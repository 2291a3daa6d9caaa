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
  // Re-attach, then stay silent for more than 3 intervals.
  svc.account_start(in, 2000);
  EXPECT_TRUE(svc.sweep(2000 + 299).events.empty());
  auto swept = svc.sweep(2000 + 301);
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
