// net::FailureLimiter: blocks after N failures in a minute, forgets after the window, and keeps a
// fixed memory under a flood of distinct addresses without losing an address that is being blocked.
#include <gtest/gtest.h>

#include <string>

#include "net/failure_limiter.hpp"

namespace {

using mobix::net::FailureLimiter;
using Clock = std::chrono::steady_clock;

struct FakeClock {
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  FailureLimiter::Clock fn() {
    return [this] { return now; };
  }
};

std::string v4(unsigned n) {
  return std::to_string(10 + (n >> 24 & 0xff)) + "." + std::to_string(n >> 16 & 0xff) + "." +
         std::to_string(n >> 8 & 0xff) + "." + std::to_string(n & 0xff);
}

TEST(FailureLimiter, BlocksAfterLimitWithinAMinute) {
  FakeClock clock;
  FailureLimiter lim(3, 64, clock.fn());
  for (int i = 0; i < 2; ++i) lim.record("192.0.2.1");
  EXPECT_FALSE(lim.blocked("192.0.2.1"));
  lim.record("192.0.2.1");
  EXPECT_TRUE(lim.blocked("192.0.2.1"));
  EXPECT_FALSE(lim.blocked("192.0.2.2")) << "another address is not blocked";
  clock.now += std::chrono::seconds(59);
  EXPECT_TRUE(lim.blocked("192.0.2.1"));
}

TEST(FailureLimiter, ForgetsAfterTheWindow) {
  FakeClock clock;
  FailureLimiter lim(2, 64, clock.fn());
  lim.record("192.0.2.1");
  lim.record("192.0.2.1");
  ASSERT_TRUE(lim.blocked("192.0.2.1"));
  EXPECT_EQ(lim.tracked(), 1u);
  clock.now += std::chrono::seconds(61);
  EXPECT_FALSE(lim.blocked("192.0.2.1"));
  EXPECT_EQ(lim.tracked(), 0u) << "the slot decays to nothing";
  lim.record("192.0.2.1");
  EXPECT_FALSE(lim.blocked("192.0.2.1")) << "a new window starts from one";
}

TEST(FailureLimiter, FloodOfDistinctAddressesStaysWithinCapacity) {
  FakeClock clock;
  FailureLimiter lim(5, 1024, clock.fn());
  // An attacker being blocked...
  for (int i = 0; i < 5; ++i) lim.record("198.51.100.7");
  ASSERT_TRUE(lim.blocked("198.51.100.7"));
  // ...then a million one-off failures from distinct addresses.
  for (unsigned n = 0; n < 1'000'000; ++n) lim.record(v4(n));
  EXPECT_LE(lim.tracked(), lim.capacity());
  EXPECT_EQ(lim.capacity(), 1024u);
  EXPECT_TRUE(lim.blocked("198.51.100.7")) << "one-off failures are evicted before a blocked address";
  // A flood address seen once is never blocked, whether it kept its slot or not.
  EXPECT_FALSE(lim.blocked(v4(999'999)));
}

TEST(FailureLimiter, FloodDoesNotBlockInnocentAddresses) {
  FakeClock clock;
  FailureLimiter lim(3, 256, clock.fn());
  // Hash collisions must not add up: every address fails twice, under the limit of three.
  for (int round = 0; round < 2; ++round)
    for (unsigned n = 0; n < 10'000; ++n) lim.record(v4(n));
  unsigned blocked = 0;
  for (unsigned n = 0; n < 10'000; ++n) blocked += lim.blocked(v4(n));
  EXPECT_EQ(blocked, 0u);
}

}  // namespace
