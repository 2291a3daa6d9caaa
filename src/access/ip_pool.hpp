#pragma once
// IPv4 address pools with persisted leases: an address is never handed to two
// subscribers at once, and a subscriber re-attaching gets its previous address back.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.hpp"
#include "store/records.hpp"

namespace mobix {

class IpPool {
 public:
  explicit IpPool(const PoolConfig& cfg);
  const PoolConfig& config() const { return cfg_; }
  bool contains(std::string_view ip) const;
  /// Offers an address to the subscriber (its existing one if it has one), valid until
  /// `expires` unless bound. nullopt when the pool is exhausted.
  std::optional<Lease> offer(std::int64_t subscriber_id, std::int64_t expires);
  /// Marks `ip` in use by a live session; returns the lease to persist.
  std::optional<Lease> bind(std::string_view ip, std::int64_t subscriber_id);
  /// Frees `ip`; returns true if it was leased.
  bool release(std::string_view ip);
  /// Frees offers that expired before `now`; returns them.
  std::vector<Lease> expire_offers(std::int64_t now);
  void restore(const Lease& l);
  /// Takes the stored leases as the truth for their addresses (another node offered or bound
  /// them): this node offers them to nobody else. Its own leases the store lacks are kept (their
  /// commits may be in flight).
  void adopt(const std::vector<Lease>& stored);
  /// Starts the next-fit cursor at a random address, so nodes sharing the pool start apart.
  void start_at_random();
  std::size_t size() const { return static_cast<std::size_t>(last_ - first_ + 1); }
  std::size_t used() const { return leases_.size(); }

 private:
  PoolConfig cfg_;
  std::uint32_t first_, last_, cursor_;
  std::unordered_map<std::uint32_t, Lease> leases_;
  std::unordered_map<std::int64_t, std::uint32_t> by_subscriber_;
};

/// Chooses a pool for a request: by APN, then by realm, then the default pool.
class PoolSet {
 public:
  explicit PoolSet(const std::vector<PoolConfig>& cfgs);
  IpPool* select(std::string_view apn, std::string_view realm);
  IpPool* owner_of(std::string_view ip);
  IpPool* by_name(std::string_view name);
  std::vector<IpPool>& pools() { return pools_; }

 private:
  std::vector<IpPool> pools_;
};

}  // namespace mobix
