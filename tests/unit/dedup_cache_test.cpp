#include <gtest/gtest.h>

#include <thread>

#include "access/dedup_cache.hpp"

using namespace mobix;

TEST(DedupCache, InFlightThenAnswered) {
  DedupCache c(std::chrono::seconds(30));
  DedupCache::Response r;
  EXPECT_EQ(c.check("k", r), DedupCache::State::miss);
  EXPECT_EQ(c.check("k", r), DedupCache::State::in_flight);
  c.answered("k", std::make_shared<const std::vector<std::uint8_t>>(std::vector<std::uint8_t>{1, 2}));
  EXPECT_EQ(c.check("k", r), DedupCache::State::answered);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 2u);
}

TEST(DedupCache, ForgottenRequestsAreProcessedAgain) {
  DedupCache c(std::chrono::seconds(30));
  DedupCache::Response r;
  c.check("k", r);
  c.forget("k");
  EXPECT_EQ(c.check("k", r), DedupCache::State::miss);
}

TEST(DedupCache, EntriesExpire) {
  DedupCache c(std::chrono::seconds(0));
  DedupCache::Response r;
  c.check("a", r);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(c.check("b", r), DedupCache::State::miss);
  EXPECT_EQ(c.size(), 1u);
}
