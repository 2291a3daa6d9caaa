#pragma once
// Seed 001 step D without amplification (issue 12 item 1): one wake-up signal per mobile server at
// a time, shared by every client waiting for it, and the legs the gateway dials back kept for the
// next clients, so a server whose gateway has dialled in is reached again without a new signal.
//
// A Link is the relay's side of "the gateway is (being) woken for this target"; the target is the
// terminal's MSISDN, the service port and the tunnel protocol. The link's tunnel id and one-time
// key (sealed in the signal) authenticate every leg the gateway dials for it.
//
// The leg protocol on the callback port, after TLS (the relay's certificate verified by the gateway):
//   gateway -> relay: MOBIX-TUNNEL <tunnel id, 16 hex> <one-time key, 32 hex>
//   relay -> gateway: MOBIX-GO <n>      a client takes the leg; n = further legs wanted (0..kMaxLegsPerGo)
//   gateway -> relay: MOBIX-UP <m>      connected to the terminal; what follows is the terminal's, and
//                                       the gateway dials m <= n more legs (its max_legs_per_link); or
//                     MOBIX-DOWN <why>  the terminal cannot be reached; no further legs
// A leg no client needs yet waits at the relay as a spare for spare_leg_idle_timeout, then the relay
// closes it and the gateway dials no replacement: the next client needs a new signal.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "codec/leg/leg.hpp"
#include "codec/signal/signal.hpp"

namespace mobix::net {
class Leg;
}

namespace mobix::relay {

inline constexpr unsigned kMaxLegsPerGo = leg::kMaxLegsPerGo;

enum class LinkState {
  idle,        ///< nothing outstanding: the next client needs a signal
  signalling,  ///< a signal is on its way, its first leg not here yet
  up,          ///< the gateway dialled in with this link's key: spares, or legs on the way
};
const char* to_string(LinkState s);

/// A client waiting for a leg.
struct LinkWaiter {
  explicit LinkWaiter(const boost::asio::any_io_executor& ex)
      : ready(ex, boost::asio::steady_timer::time_point::max()) {}
  boost::asio::steady_timer ready;  ///< cancelled when `leg` is set or the link failed
  std::shared_ptr<net::Leg> leg;
  unsigned more = 0;              ///< further legs asked for when this one was handed over (GO n)
  bool multiplexed = false;       ///< a multiplexed link came up instead: the client goes over it
  const char* failure = nullptr;  ///< why no leg will come (a refusal reason)
};

/// A leg the gateway dialled in that no client needed yet.
struct SpareLeg {
  explicit SpareLeg(const boost::asio::any_io_executor& ex) : wake(ex) {}
  std::shared_ptr<net::Leg> leg;
  boost::asio::steady_timer wake;  ///< the idle deadline; cancelled when a client takes the leg
  bool taken = false;
};

struct Link {
  using Clock = std::chrono::steady_clock;
  std::string target;
  LinkState state = LinkState::idle;
  std::uint64_t tunnel_id = 0;
  std::array<std::uint8_t, signal::kOneTimeKeySize> key{};
  unsigned requested = 0;            ///< legs asked of the gateway and not here yet (a signal asks one)
  Clock::time_point requested_by{};  ///< given up after this
  std::deque<std::shared_ptr<LinkWaiter>> waiters;
  std::vector<std::shared_ptr<SpareLeg>> spares;

  /// Will a leg come, or is one here, without a new signal?
  bool can_deliver(Clock::time_point now) const;
  /// A new signal with this id and key was made; its leg is due by `deadline`.
  void signalled(std::uint64_t id, const std::array<std::uint8_t, signal::kOneTimeKeySize>& k,
                 Clock::time_point deadline);
  /// A leg with this link's key arrived: false when none was asked for (a leaked key adds no legs).
  bool leg_arrived(Clock::time_point now);
  /// Further legs to ask for when a leg goes to a client: one per waiting client and `spare_target`
  /// spares, less what is here or on the way; at most `cap`.
  unsigned legs_to_request(unsigned spare_target, unsigned cap) const;
  void requested_more(unsigned n, Clock::time_point deadline);
  /// `n` of the legs asked for will not come (the gateway granted fewer, or answered DOWN).
  void legs_not_coming(unsigned n) { requested -= std::min(requested, n); }
  /// A leg goes to a client: asks (counts) at once the legs the link still needs, so a client
  /// arriving before the GO is written sees them on the way. Returns the n of the GO.
  unsigned hand_over(unsigned spare_target, unsigned cap, Clock::time_point deadline);
  /// The legs asked for will not come (the signal was not sent, the terminal is unreachable): idle,
  /// and every waiting client learns `why`.
  void fail(const char* why);
  /// The gateway opened a multiplexed link (net/tunnel_link.hpp): every waiting client goes over
  /// it, no leg is coming, and the next client needs no signal while the link is up.
  void link_up();
  std::shared_ptr<LinkWaiter> next_waiter();
  void remove_waiter(const LinkWaiter* w);
  std::shared_ptr<SpareLeg> take_spare();
  void remove_spare(const SpareLeg* s);
};

/// The relay's links by target and by tunnel id (the callback presents the id).
class LinkTable {
 public:
  std::shared_ptr<Link> for_target(const std::string& target);
  std::shared_ptr<Link> for_tunnel(std::uint64_t id) const;
  /// After link.signalled(): the callback finds the link by its new id, no longer by the old one.
  void rekey(const std::shared_ptr<Link>& link, std::uint64_t old_id);
  /// Forgets a link that can deliver nothing and has nobody waiting and no spare.
  void settle(const std::shared_ptr<Link>& link, Link::Clock::time_point now);
  std::size_t size() const { return by_target_.size(); }
  /// Every link (stop: spares closed, waiters woken).
  template <class F>
  void for_each(F f) {
    for (auto& [t, l] : by_target_) f(*l);
  }

 private:
  std::unordered_map<std::string, std::shared_ptr<Link>> by_target_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Link>> by_tunnel_;
};

}  // namespace mobix::relay
