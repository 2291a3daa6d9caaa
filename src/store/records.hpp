#pragma once
// Plain records the store persists. No storage types leak from here.
#include <cstdint>
#include <map>
#include <string>

namespace mobix {

/// A subscriber profile in the directory (seed 000's "operator LDAP (10)" record).
/// `attrs` holds role-specific attributes (mail account, host name, keys, ...).
struct Subscriber {
  std::int64_t id = 0;
  std::string msisdn;
  std::string imsi;
  std::string username;
  std::string serial;
  std::string password;   ///< access credential for PAP/CHAP; never logged
  std::string framed_ip;  ///< a fixed IPv4 address, or empty to use the pools
  std::string hostname;
  std::map<std::string, std::string> attrs;
};

/// A live access session (seed 000's "MSISDN/IP-address translation database").
struct SessionRecord {
  std::string sid;      ///< mobix's own unique id for the session
  std::string context;  ///< the APN (Called-Station-Id), or the NAS when there is none
  std::string ipv4;
  std::string ipv6_prefix;  ///< "2001:db8:1::/64"
  std::string msisdn;
  std::string imsi;
  std::string username;
  std::string nas;
  std::string apn;
  std::string acct_session_id;
  std::string hostname;  ///< the terminal's host name (seed 002): from the directory or its home network
  /// The RADIUS client the Start came from (its source address, or "radsec:<partner>"): only it can
  /// stop the session or end it with Accounting-On/Off (issue 12 item 2). Empty for older records.
  std::string nas_address;
  std::int64_t subscriber_id = 0;
  std::int64_t started = 0;    ///< unix seconds (the NAS's Event-Timestamp when it sent one)
  std::int64_t last_seen = 0;  ///< unix seconds
};

/// An address handed out from a pool. Offered at Access-Accept, bound by Accounting-Start,
/// freed when the session ends or the offer times out.
struct Lease {
  std::string pool;
  std::string ip;
  std::int64_t subscriber_id = 0;
  bool bound = false;
  std::int64_t expires = 0;  ///< unix seconds; only meaningful while not bound
};

/// One durable change to sessions or leases; a batch of them commits atomically.
/// An access request signal the gateway has acted on (seed 001 step E): never again before it expires.
struct SeenSignal {
  std::uint64_t tunnel_id = 0;
  std::uint32_t expires = 0;  ///< unix seconds
};

/// An accounting session that ended (stopped, taken over, ended by Accounting-On/Off or the
/// operator): a replayed Start or Interim for it must not bring it back (issue 12 item 2).
struct EndedSession {
  std::string nas;  ///< the NAS-Identifier (or NAS-IP-Address) the session carried
  std::string acct_session_id;
  std::int64_t ended = 0;          ///< unix seconds
  std::int64_t forget_before = 0;  ///< put_ended_session: entries ended before this are pruned
};

struct Change {
  enum class Kind {
    put_session,
    end_session,
    put_lease,
    free_lease,
    put_dns_removal,
    free_dns_removal,
    put_seen_signal,
    put_ended_session
  };
  Kind kind;
  /// put_session: the record; end_session: its sid; put_dns_removal: the ended session whose
  /// records the operator's DNS server must still drop (sid, hostname, ipv4); free_dns_removal: sid
  SessionRecord session;
  Lease lease;              ///< put_lease: the lease; free_lease: pool + ip
  SeenSignal signal = {};   ///< put_seen_signal (expired ones are pruned in the same transaction)
  EndedSession ended = {};  ///< put_ended_session
};

}  // namespace mobix
