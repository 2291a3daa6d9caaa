#include "net/token_buckets.hpp"

#include <algorithm>

namespace mobix::net {

TokenBuckets::TokenBuckets(double per_minute, double burst, std::size_t capacity, Clock clock)
    : per_second_(per_minute / 60.0),
      burst_(std::max(1.0, burst)),
      clock_(clock ? std::move(clock) : Clock(&std::chrono::steady_clock::now)) {
  std::size_t buckets = std::max<std::size_t>(1, (capacity + kWays - 1) / kWays);
  slots_.resize(buckets * kWays);
}

double TokenBuckets::refilled(const Slot& s, std::chrono::steady_clock::time_point now) const {
  if (s.key == 0) return burst_;
  std::chrono::duration<double> elapsed = now - s.last;
  return std::min(burst_, s.tokens + elapsed.count() * per_second_);
}

bool TokenBuckets::take(std::string_view key_text) {
  const auto now = clock_();
  const auto key = hash_(key_text);
  Slot* bucket = &slots_[(key % (slots_.size() / kWays)) * kWays];
  Slot* slot = nullptr;
  for (std::size_t i = 0; i < kWays && !slot; ++i)
    if (bucket[i].key == key) slot = &bucket[i];
  if (!slot) {
    // A new key takes an empty or refilled slot, else evicts the fullest one.
    slot = &bucket[0];
    for (std::size_t i = 0; i < kWays; ++i)
      if (refilled(bucket[i], now) > refilled(*slot, now)) slot = &bucket[i];
    *slot = Slot{key, now, burst_};
  }
  slot->tokens = refilled(*slot, now);
  slot->last = now;
  if (slot->tokens < 1.0) return false;
  slot->tokens -= 1.0;
  return true;
}

std::size_t TokenBuckets::tracked() {
  const auto now = clock_();
  std::size_t n = 0;
  for (const auto& s : slots_) n += s.key != 0 && refilled(s, now) < burst_;
  return n;
}

}  // namespace mobix::net
