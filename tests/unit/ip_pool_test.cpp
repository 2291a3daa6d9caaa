#include <gtest/gtest.h>

#include <set>

#include "access/ip_pool.hpp"

using namespace mobix;

namespace {
PoolConfig pool(std::string first, std::string last) {
  return PoolConfig{"p", std::move(first), std::move(last), "", ""};
}
}  // namespace

TEST(IpPool, NeverHandsOutAnAddressTwice) {
  IpPool p(pool("10.0.0.1", "10.0.0.4"));
  std::set<std::string> seen;
  for (int sub = 1; sub <= 4; ++sub) {
    auto l = p.offer(sub, 100);
    ASSERT_TRUE(l);
    EXPECT_TRUE(seen.insert(l->ip).second);
  }
  EXPECT_FALSE(p.offer(5, 100)) << "pool of 4 must be exhausted";
}

TEST(IpPool, SameSubscriberGetsSameAddress) {
  IpPool p(pool("10.0.0.1", "10.0.0.9"));
  auto a = p.offer(7, 100);
  auto b = p.offer(7, 200);
  EXPECT_EQ(a->ip, b->ip);
  EXPECT_EQ(p.used(), 1u);
}

TEST(IpPool, UnusedOffersExpireBoundOnesDoNot) {
  IpPool p(pool("10.0.0.1", "10.0.0.2"));
  auto a = p.offer(1, 100);
  auto b = p.offer(2, 100);
  p.bind(b->ip, 2);
  auto freed = p.expire_offers(101);
  ASSERT_EQ(freed.size(), 1u);
  EXPECT_EQ(freed[0].ip, a->ip);
  EXPECT_EQ(p.used(), 1u);
}

TEST(IpPool, ReleaseAndRestore) {
  IpPool p(pool("10.0.0.1", "10.0.0.1"));
  auto a = p.offer(1, 100);
  EXPECT_TRUE(p.release(a->ip));
  EXPECT_FALSE(p.release(a->ip));
  IpPool q(pool("10.0.0.1", "10.0.0.1"));
  q.restore(Lease{"p", "10.0.0.1", 9, true, 0});
  EXPECT_FALSE(q.offer(1, 100)) << "a restored lease must not be handed out again";
  EXPECT_EQ(q.offer(9, 100)->ip, "10.0.0.1");
}

TEST(IpPool, BindFromNasMovesOwnership) {
  IpPool p(pool("10.0.0.1", "10.0.0.5"));
  auto a = p.offer(1, 100);
  auto l = p.bind(a->ip, 2);  // the NAS reports another subscriber on it
  ASSERT_TRUE(l);
  EXPECT_EQ(l->subscriber_id, 2);
  EXPECT_NE(p.offer(1, 100)->ip, a->ip);
  EXPECT_FALSE(p.bind("192.168.0.1", 1)) << "outside the pool";
}

TEST(IpPool, AdoptsWhatAnotherNodeHolds) {
  // This node offered 10.0.0.1 to subscriber 1; the shared store says subscriber 5 (another node)
  // holds it and subscriber 6 holds 10.0.0.2. After the refused offer is released and the store's
  // leases adopted, subscriber 1 gets the one address nobody holds.
  IpPool p(pool("10.0.0.1", "10.0.0.3"));
  auto mine = p.offer(1, 100);
  ASSERT_EQ(mine->ip, "10.0.0.1");
  p.release(mine->ip);
  p.adopt({Lease{"p", "10.0.0.1", 5, false, 100}, Lease{"p", "10.0.0.2", 6, true, 0},
           Lease{"other", "10.0.0.3", 7, true, 0}});
  EXPECT_EQ(p.offer(1, 100)->ip, "10.0.0.3") << "another pool's lease does not count here";
  EXPECT_FALSE(p.offer(2, 100)) << "exhausted";
  EXPECT_EQ(p.offer(5, 100)->ip, "10.0.0.1") << "the other node's subscriber keeps its address here too";
}

TEST(IpPool, NodesSharingAPoolStartApart) {
  // Random starting points: of 20 nodes over a /16, not all begin with the same address.
  std::set<std::string> first;
  for (int node = 0; node < 20; ++node) {
    IpPool p(pool("10.1.0.0", "10.1.255.255"));
    p.start_at_random();
    first.insert(p.offer(1, 100)->ip);
  }
  EXPECT_GT(first.size(), 1u);
}

TEST(PoolSet, SelectsByApnThenRealmThenDefault) {
  PoolSet s({PoolConfig{"inet", "10.0.0.1", "10.0.0.9", "internet", ""},
             PoolConfig{"corp", "10.1.0.1", "10.1.0.9", "", "corp.example"},
             PoolConfig{"default", "10.2.0.1", "10.2.0.9", "", ""}});
  EXPECT_EQ(s.select("internet", "")->config().name, "inet");
  EXPECT_EQ(s.select("other", "corp.example")->config().name, "corp");
  EXPECT_EQ(s.select("other", "")->config().name, "default");
  EXPECT_EQ(s.owner_of("10.1.0.5")->config().name, "corp");
  EXPECT_EQ(s.owner_of("10.9.0.5"), nullptr);
}
