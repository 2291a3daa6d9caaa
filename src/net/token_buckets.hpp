#pragma once
// Token buckets per key (a client address, a target MSISDN) for anything that costs the operator
// money when a stranger asks for it (a wake-up signal: an SMS, an e-mail, a webhook call). Each key
// may spend `burst` at once and earns `per_minute` back over a minute. Fixed memory whatever the
// number of keys: a set-associative table of `capacity` slots, keyed by a per-process hash (see
// keyed_hash.hpp). A slot whose bucket has refilled is as good as empty and is reused; when a
// bucket of slots is full of live ones, the fullest bucket (the key that spent least) is evicted
// first, so a flood of one-off keys does not free a key that is being limited.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "net/keyed_hash.hpp"

namespace mobix::net {

class TokenBuckets {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::size_t kDefaultCapacity = 16384;

  TokenBuckets(double per_minute, double burst, std::size_t capacity = kDefaultCapacity, Clock clock = {});

  /// Spends one token of `key`'s bucket: false (nothing spent) when it is empty.
  bool take(std::string_view key);
  /// Keys whose bucket is not full (for tests and a gauge); never more than capacity().
  std::size_t tracked();
  std::size_t capacity() const { return slots_.size(); }

 private:
  static constexpr std::size_t kWays = 8;
  struct Slot {
    std::uint64_t key = 0;  ///< 0 = empty
    std::chrono::steady_clock::time_point last;
    double tokens = 0;
  };
  double refilled(const Slot& s, std::chrono::steady_clock::time_point now) const;

  double per_second_, burst_;
  Clock clock_;
  KeyedHash hash_;
  std::vector<Slot> slots_;
};

}  // namespace mobix::net
