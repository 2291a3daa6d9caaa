#include "core/heap_trim.hpp"

#include <gtest/gtest.h>

namespace mobix {
namespace {

TEST(HeapTrim, TrimsOnceWhenABigWaveHalves) {
  HeapTrim t;
  for (std::size_t i = 0; i < 2000; ++i) t.opened();
  int trims = 0;
  for (std::size_t i = 0; i < 999; ++i) trims += t.closed();
  EXPECT_EQ(trims, 0);      // 1001 open: above half the peak
  EXPECT_TRUE(t.closed());  // 1000 open: half of 2000
  for (std::size_t i = 0; i < 1000; ++i) trims += t.closed();
  EXPECT_EQ(trims, 0);  // the new peak (1000) is below kMinPeak: nothing more to give back
  EXPECT_EQ(t.open(), 0u);
}

TEST(HeapTrim, SmallWavesNeverTrim) {
  HeapTrim t;
  int trims = 0;
  for (int wave = 0; wave < 50; ++wave) {
    for (int i = 0; i < 500; ++i) t.opened();
    for (int i = 0; i < 500; ++i) trims += t.closed();
  }
  EXPECT_EQ(trims, 0);
}

}  // namespace
}  // namespace mobix
