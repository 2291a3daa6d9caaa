#include "net/failure_limiter.hpp"

namespace mobix::net {

namespace {
constexpr auto kWindow = std::chrono::minutes(1);
}  // namespace

FailureLimiter::FailureLimiter(unsigned per_minute, std::size_t capacity, Clock clock)
    : per_minute_(per_minute), clock_(clock ? std::move(clock) : Clock(&std::chrono::steady_clock::now)) {
  std::size_t buckets = std::max<std::size_t>(1, (capacity + kWays - 1) / kWays);
  slots_.resize(buckets * kWays);
}

bool FailureLimiter::expired(const Slot& s, std::chrono::steady_clock::time_point now) const {
  return s.key == 0 || now - s.start > kWindow;
}

FailureLimiter::Slot* FailureLimiter::find(std::uint64_t key, std::chrono::steady_clock::time_point now) {
  Slot* bucket = &slots_[(key % (slots_.size() / kWays)) * kWays];
  for (std::size_t i = 0; i < kWays; ++i)
    if (bucket[i].key == key) {
      if (expired(bucket[i], now)) bucket[i] = Slot{};
      return bucket[i].key ? &bucket[i] : nullptr;
    }
  return nullptr;
}

bool FailureLimiter::blocked(std::string_view address) {
  std::lock_guard lock(mu_);
  auto now = clock_();
  Slot* s = find(hash_(address), now);
  return s && s->count >= per_minute_;
}

void FailureLimiter::record(std::string_view address) {
  std::lock_guard lock(mu_);
  auto now = clock_();
  auto key = hash_(address);
  if (Slot* s = find(key, now)) {
    ++s->count;
    return;
  }
  Slot* bucket = &slots_[(key % (slots_.size() / kWays)) * kWays];
  Slot* victim = &bucket[0];
  for (std::size_t i = 0; i < kWays; ++i) {
    Slot& c = bucket[i];
    if (expired(c, now)) {
      victim = &c;
      break;
    }
    if (c.count < victim->count || (c.count == victim->count && c.start < victim->start)) victim = &c;
  }
  *victim = Slot{key, now, 1};
}

std::size_t FailureLimiter::tracked() {
  std::lock_guard lock(mu_);
  auto now = clock_();
  std::size_t n = 0;
  for (const auto& s : slots_) n += !expired(s, now);
  return n;
}

}  // namespace mobix::net
