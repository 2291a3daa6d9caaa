#pragma once
// A hash of a short key (an address, an MSISDN) from a basis drawn once per process, so which keys
// share a bucket in the bounded limiter tables differs from process to process: a stranger cannot
// aim keys at one bucket from outside. FNV-1a, then splitmix64's finalizer. Never returns 0 (the
// tables' "empty slot").
#include <cstdint>
#include <random>
#include <string_view>

namespace mobix::net {

class KeyedHash {
 public:
  KeyedHash() {
    std::random_device rd;
    seed_ = (std::uint64_t{rd()} << 32) ^ rd();
  }
  std::uint64_t operator()(std::string_view key) const {
    std::uint64_t h = seed_ ^ 0xcbf29ce484222325ULL;
    for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
  }

 private:
  std::uint64_t seed_;
};

}  // namespace mobix::net
