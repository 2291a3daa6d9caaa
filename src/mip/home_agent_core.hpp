#pragma once
// The Home Agent's decisions (RFC 5944 3.8), apart from sockets and the store so they can be tested
// alone: for one Registration Request, the reply, the reason it is counted under, and the binding
// to write durably before the reply is sent. Seed 003: the per-device proxy registers the device's
// home address here; a new care-of address is the device moving (claim 5).
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/mip/mip.hpp"
#include "store/records.hpp"

namespace mobix::mip {

struct HomeAgentPolicy {
  std::uint32_t address = 0;          ///< the Home Agent field requests must carry
  std::uint16_t max_lifetime = 1800;  ///< longer requests are granted this (RFC 5944 3.8.3.1)
  std::uint32_t replay_window = 7;    ///< seconds of clock difference accepted (RFC 5944 5.7)
  std::size_t max_bindings = 1'000'000;
};

/// What the Home Agent does with one datagram.
struct Verdict {
  enum class Action { drop, reply };
  Action action = Action::drop;
  Reply reply;
  /// The key to authenticate the reply with; absent when there is no security association (the
  /// reply then carries no authenticator: RFC 5944 3.8.3.2 cannot be met without one).
  std::optional<SecurityAssociation> sa;
  std::string reason;                    ///< metric label: registered, deregistered, bad_authenticator, ...
  std::optional<MobilityBinding> write;  ///< to commit before replying
};

class HomeAgentCore {
 public:
  /// The security association for a home address (from the device records), or nullopt.
  using Lookup = std::function<std::optional<SecurityAssociation>(std::uint32_t home_address)>;

  HomeAgentCore(HomeAgentPolicy policy, Lookup lookup);

  /// Decides for one datagram received at unix time `now`. An accepted registration is applied in
  /// memory at once (a second copy in flight is a replay); undo() takes it back if the write fails.
  Verdict decide(std::span<const std::uint8_t> datagram, std::int64_t now);
  void undo(const MobilityBinding& written, const std::optional<MobilityBinding>& before);
  /// The store refused the binding `accepted` wrote because another Home Agent node had stored a
  /// later registration (`stored`, when the store could say which; RFC 5944 5.7 across nodes): the
  /// later one is remembered and the acceptance becomes a 133 carrying the Home Agent's time. Call
  /// after undo().
  Verdict superseded(const Verdict& accepted, const std::optional<MobilityBinding>& stored, std::int64_t now);
  /// The binding in force before decide() wrote `home` (for undo()).
  std::optional<MobilityBinding> current(const std::string& home) const;

  /// Bindings loaded from the store at start (replay memory included).
  void load(const std::vector<MobilityBinding>& bindings);
  /// Where `home` is reachable now, or nullopt (no binding or expired).
  std::optional<std::string> care_of(const std::string& home, std::int64_t now) const;
  /// Bindings with a care-of address, expired or not until the next sweep().
  std::size_t live() const { return live_; }
  /// Ends the bindings whose lifetime ran out (their replay memory stays); returns how many.
  std::size_t sweep(std::int64_t now);

 private:
  Verdict refuse(const Request& r, Code code, std::string reason,
                 std::optional<SecurityAssociation> sa) const;
  Verdict check_identification(const Request& r, const SecurityAssociation& sa, std::int64_t now) const;
  Verdict accept(const Request& r, const SecurityAssociation& sa, std::int64_t now);

  void put(const MobilityBinding& b);
  HomeAgentPolicy policy_;
  Lookup lookup_;
  std::unordered_map<std::string, MobilityBinding> bindings_;  ///< by home address
  std::size_t live_ = 0;
};

}  // namespace mobix::mip
