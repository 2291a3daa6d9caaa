#pragma once
// A per-address limit on failed attempts (bad logins, refused signals) for anything a stranger can
// reach. Fixed memory whatever the number of addresses: a set-associative table of `capacity` slots;
// an address's count lives in a one-minute window from its first failure and then decays to nothing.
// When an address's bucket is full, an expired slot is reused, else the slot with the fewest failures
// (the oldest among equals): a flood of distinct addresses evicts one-off failures first, not an
// address that is being blocked. The bucket comes from a hash keyed per process, so a stranger
// cannot aim addresses at one bucket from outside.
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>
#include <vector>

#include "net/keyed_hash.hpp"

namespace mobix::net {

class FailureLimiter {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::size_t kDefaultCapacity = 16384;

  /// `per_minute` failures in a window block the address for the rest of it.
  explicit FailureLimiter(unsigned per_minute, std::size_t capacity = kDefaultCapacity, Clock clock = {});

  bool blocked(std::string_view address);
  void record(std::string_view address);
  /// Addresses with a live window (for tests and a gauge); never more than capacity().
  std::size_t tracked();
  std::size_t capacity() const { return slots_.size(); }

 private:
  static constexpr std::size_t kWays = 8;
  struct Slot {
    std::uint64_t key = 0;  ///< keyed hash of the address; 0 = empty
    std::chrono::steady_clock::time_point start;
    unsigned count = 0;
  };
  Slot* find(std::uint64_t key, std::chrono::steady_clock::time_point now);
  bool expired(const Slot& s, std::chrono::steady_clock::time_point now) const;

  unsigned per_minute_;
  Clock clock_;
  KeyedHash hash_;
  std::vector<Slot> slots_;
  std::mutex mu_;
};

}  // namespace mobix::net
