#pragma once
// The visited network's side of roaming (seed 002 [0028]-[0033]): a terminal from a partner's
// realm is authenticated by its home network over RadSec, and its accounting follows it there.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "codec/radius/radius.hpp"
#include "core/config.hpp"
#include "roaming/radsec.hpp"
#include "store/records.hpp"

namespace boost::asio {
class io_context;
}

namespace mobix::roaming {

/// The home network's vouched-for host name travels in Class (RFC 2865 5.25): the NAS echoes it
/// in its accounting, so the visited side learns the name without keeping any state.
std::string host_class(std::string_view hostname);
/// The host name a Class attribute carries, if it is one of ours.
std::optional<std::string> hostname_from_class(std::string_view cls);

class VisitedSide {
 public:
  using Clock = std::function<std::int64_t()>;  ///< unix seconds
  /// Removes a delivered record from the store (a delete_outbox change); may be empty (tests).
  using Forget = std::function<void(const OutboxRecord&)>;
  /// One RadSec client per partner with a `server` (opened on first use). `node` names this
  /// node's outbox records.
  VisitedSide(boost::asio::io_context& io, const RoamingConfig& cfg, Clock clock, std::string node = "mobix",
              Forget forget = {});
  ~VisitedSide();
  VisitedSide(const VisitedSide&) = delete;
  VisitedSide& operator=(const VisitedSide&) = delete;

  /// The RadSec client to `partner`'s home network, or null when we have no route to it.
  RadsecClient* home(const RoamingPartnerConfig* partner);
  /// Asks the home network to authenticate the NAS's request ([0028]): forwarded without
  /// User-Password (hidden again for the RadSec hop from `pap_password`) or Message-Authenticator.
  /// nullopt when the home network did not answer.
  boost::asio::awaitable<std::optional<radius::Packet>> ask_home(RadsecClient& home,
                                                                 const radius::Packet& req,
                                                                 std::string pap_password);
  /// A visiting terminal's Start, Interim or Stop for its home network ([0029], [0033]), as a
  /// record the caller commits with the change it reports (so a restart cannot lose it).
  OutboxRecord accounting_record(const RoamingPartnerConfig& partner, const SessionRecord& s,
                                 radius::AcctStatus status);
  /// Committed records (or those left in the store by the last run): delivered in order per
  /// partner, retried with backoff, never skipped; each forgotten once its home network answered.
  void deliver(std::vector<OutboxRecord> records);
  /// Records waiting for their home network.
  std::size_t pending() const;
  /// Stops retrying; what is queued stays in the store for the next run.
  void stop();

 private:
  struct Outbox;
  boost::asio::awaitable<void> deliver_loop(Outbox& out);

  boost::asio::io_context& io_;
  Clock clock_;
  std::string node_;
  Forget forget_;
  bool stopping_ = false;
  std::int64_t last_seq_ = 0;
  std::shared_ptr<std::atomic<std::int64_t>> pending_count_ = std::make_shared<std::atomic<std::int64_t>>(0);
  std::map<std::string, std::unique_ptr<Outbox>> outboxes_;  ///< by partner name
};

}  // namespace mobix::roaming
