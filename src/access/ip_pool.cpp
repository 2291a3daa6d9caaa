#include "access/ip_pool.hpp"

#include <arpa/inet.h>

#include <random>

namespace mobix {
namespace {
std::optional<std::uint32_t> to_u32(std::string_view ip) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(ip).c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}
std::string to_text(std::uint32_t v) {
  in_addr a{htonl(v)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}
}  // namespace

IpPool::IpPool(const PoolConfig& cfg) : cfg_(cfg) {
  first_ = to_u32(cfg.first).value_or(0);
  last_ = to_u32(cfg.last).value_or(0);
  cursor_ = first_;
}

bool IpPool::contains(std::string_view ip) const {
  auto v = to_u32(ip);
  return v && *v >= first_ && *v <= last_;
}

std::optional<Lease> IpPool::offer(std::int64_t subscriber_id, std::int64_t expires) {
  if (auto it = by_subscriber_.find(subscriber_id); it != by_subscriber_.end()) {
    auto& l = leases_.at(it->second);
    if (!l.bound) l.expires = expires;
    return l;
  }
  // Next-fit from the cursor so recently freed addresses rest before reuse.
  std::uint64_t n = std::uint64_t{last_} - first_ + 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint32_t cand = cursor_;
    cursor_ = cursor_ == last_ ? first_ : cursor_ + 1;
    if (leases_.count(cand)) continue;
    Lease l{cfg_.name, to_text(cand), subscriber_id, false, expires};
    leases_[cand] = l;
    by_subscriber_[subscriber_id] = cand;
    return l;
  }
  return std::nullopt;
}

std::optional<Lease> IpPool::bind(std::string_view ip, std::int64_t subscriber_id) {
  auto v = to_u32(ip);
  if (!v || *v < first_ || *v > last_) return std::nullopt;
  auto& l = leases_[*v];
  if (l.ip.empty()) {
    l = Lease{cfg_.name, std::string(ip), subscriber_id, true, 0};
  } else if (l.subscriber_id != subscriber_id) {
    // The NAS says this address now belongs to another subscriber: it wins.
    by_subscriber_.erase(l.subscriber_id);
    l.subscriber_id = subscriber_id;
  }
  l.bound = true;
  l.expires = 0;
  if (subscriber_id) {
    if (auto it = by_subscriber_.find(subscriber_id); it != by_subscriber_.end() && it->second != *v) {
      // The subscriber moved to a new address: its old offer is no longer needed.
      auto old = leases_.find(it->second);
      if (old != leases_.end() && !old->second.bound) leases_.erase(old);
    }
    by_subscriber_[subscriber_id] = *v;
  }
  return l;
}

bool IpPool::release(std::string_view ip) {
  auto v = to_u32(ip);
  if (!v) return false;
  auto it = leases_.find(*v);
  if (it == leases_.end()) return false;
  if (auto s = by_subscriber_.find(it->second.subscriber_id); s != by_subscriber_.end() && s->second == *v)
    by_subscriber_.erase(s);
  leases_.erase(it);
  return true;
}

std::vector<Lease> IpPool::expire_offers(std::int64_t now) {
  std::vector<Lease> out;
  for (auto& [ip, l] : leases_)
    if (!l.bound && l.expires < now) out.push_back(l);
  for (auto& l : out) release(l.ip);
  return out;
}

void IpPool::restore(const Lease& l) {
  auto v = to_u32(l.ip);
  if (!v || *v < first_ || *v > last_) return;
  leases_[*v] = l;
  if (l.subscriber_id) by_subscriber_[l.subscriber_id] = *v;
}

void IpPool::adopt(const std::vector<Lease>& stored) {
  for (const auto& l : stored) {
    auto v = to_u32(l.ip);
    if (l.pool != cfg_.name || !v || *v < first_ || *v > last_) continue;
    if (auto it = leases_.find(*v); it != leases_.end() && it->second.subscriber_id != l.subscriber_id)
      if (auto s = by_subscriber_.find(it->second.subscriber_id);
          s != by_subscriber_.end() && s->second == *v)
        by_subscriber_.erase(s);
    leases_[*v] = l;
    if (l.subscriber_id) by_subscriber_.emplace(l.subscriber_id, *v);  // keeps one it already has
  }
}

void IpPool::start_at_random() {
  std::random_device rd;
  std::uint64_t n = std::uint64_t{last_} - first_ + 1;
  cursor_ = first_ + static_cast<std::uint32_t>(rd() % n);
}

PoolSet::PoolSet(const std::vector<PoolConfig>& cfgs) {
  for (const auto& c : cfgs) pools_.emplace_back(c);
}

IpPool* PoolSet::select(std::string_view apn, std::string_view realm) {
  if (!apn.empty())
    for (auto& p : pools_)
      if (p.config().apn == apn) return &p;
  if (!realm.empty())
    for (auto& p : pools_)
      if (p.config().realm == realm) return &p;
  for (auto& p : pools_)
    if (p.config().apn.empty() && p.config().realm.empty()) return &p;
  return nullptr;
}

IpPool* PoolSet::owner_of(std::string_view ip) {
  for (auto& p : pools_)
    if (p.contains(ip)) return &p;
  return nullptr;
}

IpPool* PoolSet::by_name(std::string_view name) {
  for (auto& p : pools_)
    if (p.config().name == name) return &p;
  return nullptr;
}

}  // namespace mobix
