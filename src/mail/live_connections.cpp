#include "mail/live_connections.hpp"

#include <vector>

namespace mobix::mail {

LiveConnections::Tracked LiveConnections::track(const std::string& ip, Close close) {
  auto key = next_++;
  by_ip_[ip].emplace(key, std::move(close));
  ++count_;
  return Tracked(this, ip, key);
}

void LiveConnections::forget(const std::string& ip, std::uint64_t key) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return;
  if (it->second.erase(key)) --count_;
  if (it->second.empty()) by_ip_.erase(it);
}

std::size_t LiveConnections::close_all(const std::string& ip) {
  auto it = by_ip_.find(ip);
  if (it == by_ip_.end()) return 0;
  // Closing lets the sessions end (and forget themselves) later, on their own turn of the loop.
  std::vector<Close> closers;
  for (auto& [key, close] : it->second) closers.push_back(close);
  for (auto& close : closers) close();
  return closers.size();
}

}  // namespace mobix::mail
