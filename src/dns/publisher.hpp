#pragma once
// Makes DNS follow the access sessions (seed 002 [0029], [0033]): on attach the terminal's host
// name gets an A record (in the forward zone that holds it) and its address a PTR (in the
// reverse zone that holds it); on detach both go. Each zone is served either by the embedded
// server (a ZoneSet) or by the operator's DNS server through RFC 2136 (an UpdateClient).
#include <memory>
#include <string>
#include <vector>

#include "access/session_table.hpp"
#include "dns/update_client.hpp"
#include "codec/dns/zone.hpp"

namespace mobix::dns {

class ZonePublisher {
 public:
  /// `sessions` is asked whether a record is still in use before it is removed.
  ZonePublisher(ZoneSet& embedded, const SessionTable& sessions, std::uint32_t ttl);
  /// Routes `origin` (normalized) to an RFC 2136 server instead of the embedded server.
  void add_external_zone(const std::string& origin, UpdateServerConfig cfg);

  void on_event(const SessionEvent& e);
  /// After a start: the zones say exactly what the live sessions say (embedded zones are
  /// rebuilt; external zones get every live record again).
  void reconcile(const std::vector<SessionRecord>& live);
  /// Waits for the external servers to accept everything queued (tests, shutdown).
  bool flush(int ms);

 private:
  struct Target {
    std::string origin;
    UpdateClient* external = nullptr;  ///< null: the embedded ZoneSet
  };
  std::optional<Target> route(const std::string& name) const;
  void apply(RecordChange c);
  std::vector<RecordChange> records_of(const SessionRecord& s, RecordChange::Op op) const;

  ZoneSet& embedded_;
  const SessionTable& sessions_;
  std::uint32_t ttl_;
  std::vector<std::pair<std::string, std::unique_ptr<UpdateClient>>> external_;
};

}  // namespace mobix::dns
