#pragma once
// Duplicate detection (RFC 5080 section 2.2.2): a retransmitted request (same client
// address, port, Identifier and Request Authenticator) is answered with the response
// already sent, and never processed twice.
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace mobix {

class DedupCache {
 public:
  using Response = std::shared_ptr<const std::vector<std::uint8_t>>;
  enum class State { miss, in_flight, answered };

  explicit DedupCache(std::chrono::seconds ttl) : ttl_(ttl) {}

  /// On a miss, records the request as in flight.
  State check(const std::string& key, Response& cached) {
    auto now = std::chrono::steady_clock::now();
    evict(now);
    auto it = map_.find(key);
    if (it == map_.end()) {
      map_.emplace(key, Entry{now + ttl_, nullptr});
      order_.emplace_back(now + ttl_, key);
      return State::miss;
    }
    if (!it->second.response) return State::in_flight;
    cached = it->second.response;
    return State::answered;
  }
  void answered(const std::string& key, Response r) {
    if (auto it = map_.find(key); it != map_.end()) it->second.response = std::move(r);
  }
  /// The request was not answered (e.g. the store failed): a retransmission is processed again.
  void forget(const std::string& key) { map_.erase(key); }
  std::size_t size() const { return map_.size(); }

 private:
  struct Entry {
    std::chrono::steady_clock::time_point expires;
    Response response;
  };
  void evict(std::chrono::steady_clock::time_point now) {
    while (!order_.empty() && order_.front().first <= now) {
      auto it = map_.find(order_.front().second);
      if (it != map_.end() && it->second.expires == order_.front().first) map_.erase(it);
      order_.pop_front();
    }
  }
  std::chrono::seconds ttl_;
  std::unordered_map<std::string, Entry> map_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> order_;
};

}  // namespace mobix
