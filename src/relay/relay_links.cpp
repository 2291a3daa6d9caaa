#include "relay/relay_links.hpp"

#include <algorithm>

namespace mobix::relay {

const char* to_string(LinkState s) {
  switch (s) {
    case LinkState::idle:
      return "idle";
    case LinkState::signalling:
      return "signalling";
    case LinkState::up:
      return "up";
  }
  return "?";
}

bool Link::can_deliver(Clock::time_point now) const {
  switch (state) {
    case LinkState::idle:
      return false;
    case LinkState::signalling:
      return now < requested_by;
    case LinkState::up:
      return !spares.empty() || (requested > 0 && now < requested_by);
  }
  return false;
}

void Link::signalled(std::uint64_t id, const std::array<std::uint8_t, signal::kOneTimeKeySize>& k,
                     Clock::time_point deadline) {
  state = LinkState::signalling;
  tunnel_id = id;
  key = k;
  requested = 1;
  requested_by = deadline;
}

bool Link::leg_arrived(Clock::time_point now) {
  if (state == LinkState::idle || requested == 0 || now >= requested_by) return false;
  --requested;
  state = LinkState::up;
  return true;
}

unsigned Link::legs_to_request(unsigned spare_target, unsigned cap) const {
  const std::size_t want = waiters.size() + spare_target;
  const std::size_t have = spares.size() + requested;
  return want > have ? static_cast<unsigned>(std::min<std::size_t>(want - have, cap)) : 0;
}

void Link::requested_more(unsigned n, Clock::time_point deadline) {
  if (n == 0) return;
  requested += n;
  requested_by = deadline;
}

unsigned Link::hand_over(unsigned spare_target, unsigned cap, Clock::time_point deadline) {
  const unsigned n = legs_to_request(spare_target, cap);
  requested_more(n, deadline);
  return n;
}

void Link::fail(const char* why) {
  state = LinkState::idle;
  requested = 0;
  for (auto& w : waiters) {
    w->failure = why;
    w->ready.cancel();
  }
  waiters.clear();
}

void Link::link_up() {
  state = LinkState::idle;
  requested = 0;
  for (auto& w : waiters) {
    w->multiplexed = true;
    w->ready.cancel();
  }
  waiters.clear();
}

std::shared_ptr<LinkWaiter> Link::next_waiter() {
  if (waiters.empty()) return nullptr;
  auto w = waiters.front();
  waiters.pop_front();
  return w;
}

void Link::remove_waiter(const LinkWaiter* w) {
  auto it = std::find_if(waiters.begin(), waiters.end(), [w](const auto& p) { return p.get() == w; });
  if (it != waiters.end()) waiters.erase(it);
}

std::shared_ptr<SpareLeg> Link::take_spare() {
  if (spares.empty()) return nullptr;
  auto s = spares.back();  // the most recently dialled: the least likely to have been dropped by a NAT
  spares.pop_back();
  return s;
}

void Link::remove_spare(const SpareLeg* s) {
  auto it = std::find_if(spares.begin(), spares.end(), [s](const auto& p) { return p.get() == s; });
  if (it != spares.end()) spares.erase(it);
}

std::shared_ptr<Link> LinkTable::for_target(const std::string& target) {
  auto& link = by_target_[target];
  if (!link) {
    link = std::make_shared<Link>();
    link->target = target;
  }
  return link;
}

std::shared_ptr<Link> LinkTable::for_tunnel(std::uint64_t id) const {
  auto it = by_tunnel_.find(id);
  return it == by_tunnel_.end() ? nullptr : it->second;
}

void LinkTable::rekey(const std::shared_ptr<Link>& link, std::uint64_t old_id) {
  if (old_id != 0) {
    auto it = by_tunnel_.find(old_id);
    if (it != by_tunnel_.end() && it->second == link) by_tunnel_.erase(it);
  }
  by_tunnel_[link->tunnel_id] = link;
}

void LinkTable::settle(const std::shared_ptr<Link>& link, Link::Clock::time_point now) {
  if (link->can_deliver(now) || !link->waiters.empty() || !link->spares.empty()) return;
  auto it = by_tunnel_.find(link->tunnel_id);
  if (it != by_tunnel_.end() && it->second == link) by_tunnel_.erase(it);
  auto t = by_target_.find(link->target);
  if (t != by_target_.end() && t->second == link) by_target_.erase(t);
}

}  // namespace mobix::relay
