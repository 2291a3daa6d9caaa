#pragma once
// The spine's read side of the session table (DESIGN.md "The spine"): who holds which IP right now,
// and attach/detach events. Roles other than `access` see sessions only through this interface;
// the access role owns the table (access/session_table.hpp) and is its only writer.
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace mobix {

struct SessionEvent {
  enum class Kind { attach, detach };
  Kind kind;
  SessionRecord session;
  std::string reason;  ///< detach: stop, takeover, expired, accounting-on, accounting-off, admin
};

class SessionView {
 public:
  virtual ~SessionView() = default;
  /// The session holding `ip` (IPv4 address, or an IPv6 address inside a delegated prefix).
  /// With `context` empty, any context matches (the newest session wins).
  virtual std::optional<SessionRecord> find_by_ip(std::string_view ip,
                                                  std::string_view context = {}) const = 0;
  /// The newest session of the subscriber with this MSISDN that has an IPv4 address (seed 001:
  /// the gateway finds the terminal a signal names).
  virtual std::optional<SessionRecord> find_by_msisdn(std::string_view msisdn) const = 0;
  virtual std::vector<SessionRecord> list() const = 0;
  virtual std::size_t size() const = 0;

  using Listener = std::function<void(const SessionEvent&)>;
  /// Attach/detach events, called on the access role's thread after the change is durable.
  virtual void subscribe(Listener l) = 0;
  /// A role whose work for a session outlives it (DNS records at an external server) asks for a
  /// durable record of the session's end, written in the same transaction as the end itself:
  /// `needed(session)` says for which sessions (Change::put_dns_removal).
  virtual void journal_ends(std::function<bool(const SessionRecord&)> needed) = 0;
};

/// The write side other roles may use: operator actions through the admin API.
class SessionControl {
 public:
  virtual ~SessionControl() = default;
  /// Ends the session holding `ip`; `done(found)` runs on the io thread once the end is durable.
  virtual void purge(const std::string& ip, std::function<void(bool found)> done) = 0;
};

}  // namespace mobix
