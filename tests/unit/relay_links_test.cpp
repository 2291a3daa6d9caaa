// relay::Link: one signal per target at a time, legs only when asked for, and enough legs asked for
// every waiting client plus the spares.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "relay/relay_links.hpp"

namespace {

using mobix::relay::Link;
using mobix::relay::LinkState;
using mobix::relay::LinkTable;
using mobix::relay::LinkWaiter;
using Clock = std::chrono::steady_clock;

TEST(RelayLinks, OneSignalServesEveryWaiterThenSpares) {
  boost::asio::io_context io;
  LinkTable table;
  auto link = table.for_target("31610000001/80/1");
  const auto t0 = Clock::now();
  EXPECT_FALSE(link->can_deliver(t0)) << "a new link needs a signal";
  link->signalled(42, {}, t0 + std::chrono::seconds(10));
  table.rekey(link, 0);
  EXPECT_EQ(table.for_tunnel(42), link);
  EXPECT_TRUE(link->can_deliver(t0)) << "further clients wait for the same signal";
  for (int i = 0; i < 5; ++i) link->waiters.push_back(std::make_shared<LinkWaiter>(io.get_executor()));
  ASSERT_TRUE(link->leg_arrived(t0));
  EXPECT_EQ(link->state, LinkState::up);
  auto first = link->next_waiter();
  ASSERT_TRUE(first);
  // Four still wait, one spare wanted, nothing on the way: five more legs.
  EXPECT_EQ(link->legs_to_request(1, 16), 5u);
  EXPECT_EQ(link->legs_to_request(1, 3), 3u) << "capped";
  link->requested_more(5, t0 + std::chrono::seconds(10));
  EXPECT_EQ(link->legs_to_request(1, 16), 0u) << "what is on the way covers everyone";
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(link->leg_arrived(t0));
  EXPECT_FALSE(link->leg_arrived(t0)) << "a sixth leg was not asked for";
}

TEST(RelayLinks, LegsAskedForExpire) {
  LinkTable table;
  auto link = table.for_target("x");
  const auto t0 = Clock::now();
  link->signalled(7, {}, t0 + std::chrono::seconds(3));
  EXPECT_FALSE(link->can_deliver(t0 + std::chrono::seconds(3)));
  EXPECT_FALSE(link->leg_arrived(t0 + std::chrono::seconds(4))) << "too late for the signal";
}

TEST(RelayLinks, FailWakesEveryWaiterAndSettleForgets) {
  boost::asio::io_context io;
  LinkTable table;
  auto link = table.for_target("x");
  const auto t0 = Clock::now();
  link->signalled(9, {}, t0 + std::chrono::seconds(3));
  table.rekey(link, 0);
  auto w = std::make_shared<LinkWaiter>(io.get_executor());
  link->waiters.push_back(w);
  link->fail("signal_not_sent");
  EXPECT_STREQ(w->failure, "signal_not_sent");
  EXPECT_EQ(link->state, LinkState::idle);
  EXPECT_TRUE(link->waiters.empty());
  table.settle(link, t0);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.for_tunnel(9), nullptr);
}

TEST(RelayLinks, RekeyDropsTheOldTunnelId) {
  LinkTable table;
  auto link = table.for_target("x");
  const auto t0 = Clock::now();
  link->signalled(1, {}, t0 + std::chrono::seconds(3));
  table.rekey(link, 0);
  link->signalled(2, {}, t0 + std::chrono::seconds(3));
  table.rekey(link, 1);
  EXPECT_EQ(table.for_tunnel(1), nullptr);
  EXPECT_EQ(table.for_tunnel(2), link);
}

}  // namespace
