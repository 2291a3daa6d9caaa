// net::TokenBuckets: a burst, then one token per 60/per_minute seconds; fixed memory under a flood of
// distinct keys, without freeing a key that is being limited.
#include <gtest/gtest.h>

#include <string>

#include "net/token_buckets.hpp"

namespace {

using mobix::net::TokenBuckets;
using Clock = std::chrono::steady_clock;

struct FakeClock {
  Clock::time_point now = Clock::time_point{} + std::chrono::hours(1);
  TokenBuckets::Clock fn() {
    return [this] { return now; };
  }
};

TEST(TokenBuckets, BurstThenRate) {
  FakeClock clock;
  TokenBuckets b(6, 3, 64, clock.fn());  // 3 at once, then one every 10 s
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.take("31610000001")) << i;
  EXPECT_FALSE(b.take("31610000001"));
  EXPECT_TRUE(b.take("31610000002")) << "another key has its own bucket";
  clock.now += std::chrono::seconds(9);
  EXPECT_FALSE(b.take("31610000001"));
  clock.now += std::chrono::seconds(1);
  EXPECT_TRUE(b.take("31610000001")) << "one token earned in 10 s";
  EXPECT_FALSE(b.take("31610000001"));
}

TEST(TokenBuckets, AFloodOfOneKeyIsBoundedPerMinute) {
  FakeClock clock;
  TokenBuckets b(6, 3, 64, clock.fn());
  int granted = 0;
  // One request every 10 ms for ten minutes.
  for (int i = 0; i < 60'000; ++i) {
    granted += b.take("victim");
    clock.now += std::chrono::milliseconds(10);
  }
  EXPECT_LE(granted, 3 + 6 * 10);
  EXPECT_GE(granted, 6 * 10);
}

TEST(TokenBuckets, RefilledBucketsDecayToNothing) {
  FakeClock clock;
  TokenBuckets b(60, 2, 64, clock.fn());
  b.take("a");
  EXPECT_EQ(b.tracked(), 1u);
  clock.now += std::chrono::seconds(2);
  EXPECT_EQ(b.tracked(), 0u);
}

TEST(TokenBuckets, FloodOfDistinctKeysKeepsTheLimitedKey) {
  FakeClock clock;
  TokenBuckets b(1, 2, 1024, clock.fn());
  while (b.take("attacker")) {
  }
  for (unsigned n = 0; n < 1'000'000; ++n) b.take("k" + std::to_string(n));
  EXPECT_LE(b.tracked(), b.capacity());
  EXPECT_EQ(b.capacity(), 1024u);
  EXPECT_FALSE(b.take("attacker")) << "one-off keys are evicted before an empty bucket";
}

}  // namespace
