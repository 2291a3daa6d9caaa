#pragma once
// Plain records the store persists. No storage types leak from here.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

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

/// A node's lease on a singleton job (issue 14 item 5): the job runs on one node at a time, and each
/// write it makes carries the lease, so a former holder that stalled past its lease cannot write.
struct JobLease {
  std::string job;
  std::string holder;      ///< the node process (its store application_name)
  std::int64_t epoch = 0;  ///< grows by one each time another holder takes the job over
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

/// The valid-serial database (seed 004 Phase II step [3], database 183): every box the factory
/// minted, with the hash of its configuration access password (parameters 190).
struct ValidSerial {
  std::string serial;
  std::string password_sha256;  ///< lowercase hex SHA-256 of the password; the password is never stored
  std::string cert_serial;      ///< the serial-number certificate's X.509 serial (upper-case hex)
  std::int64_t minted = 0;      ///< unix seconds
  std::int64_t revoked = 0;     ///< unix seconds; 0: valid
};

/// Where a box stands in its configuration (seed 004 phases I-III), as the console shows it.
enum class BoxState { registered, configuring, configured, config_error, online };
const char* to_string(BoxState s);
/// False for a name that is not a state.
bool box_state_from_string(std::string_view name, BoxState& out);

/// One entry of a box's address book (seed 004 Figure 12): who the user may send to.
struct AddressBookEntry {
  std::string cb_name;
  std::string friendly_name;
};

/// The operational user record (seed 004 Phase I: record 63 in the connectivity manager's
/// database 204). Billing data lives apart (BoxBilling), linked by the CB ID.
struct BoxRecord {
  std::string cb_id;          ///< generated at registration, never changes ("cb-" + 16 hex)
  std::string cb_name;        ///< globally unique, chosen at registration
  std::string friendly_name;  ///< how others see this box in their address books
  std::string serial;         ///< the box's serial number (parameters 190)
  std::string line_id;        ///< the number the box's line answers (wake-up, seed 004 Phase III)
  std::vector<AddressBookEntry> address_book;
  BoxState state = BoxState::registered;
  std::string state_reason;        ///< why it is in that state (refusals name their reason here)
  std::string cert_serial;         ///< the CB certificate issued last: the only one the CSS accepts
  std::int64_t subscriber_id = 0;  ///< the box's normal access credentials in the directory
  std::int64_t ab_seq = 1;         ///< CSS address-book sequence number (seed 004 Figure 11)
  std::int64_t cfg_seq = 1;        ///< CSS configuration sequence number
  std::string last_ip;             ///< where it was last seen
  /// Phase III: the box must call back by then (unix seconds), or its record shows a
  /// configuration error; 0: no call back awaited.
  std::int64_t callback_due = 0;
  std::int64_t created = 0, updated = 0, last_seen = 0;  ///< unix seconds
  std::int64_t version = 0;  ///< bumped by every update; updates compare it (several writers)
};

/// Billing data (seed 004 Phase I: the SRMS database 24), apart from the operational record.
struct BoxBilling {
  std::string cb_id;
  std::string name;
  std::string street_address;
  std::string billing;  ///< the payment reference the call center took; never logged
};

/// A device of seed 003 (the seed's DECT telephone; any IP phone, softphone or IoT voice device):
/// its globally unique identity code, the subscriber it belongs to, and its initiating information
/// (claim 1): the home address and the Mobile IP security association with the Home Agent.
struct Device {
  std::string identity_code;
  std::int64_t subscriber_id = 0;
  std::string home_address;   ///< IPv4; unique
  std::uint32_t mip_spi = 0;  ///< RFC 5944 1.6: 256 or more
  std::string mip_key_hex;    ///< the Mobile IP key (HMAC-MD5); never logged, never returned
  std::int64_t created = 0;   ///< unix seconds
};

/// The Home Agent's record of a home address (RFC 5944 3.8.3): where it is reachable until when,
/// and the last identification accepted from it (replay protection, RFC 5944 5.7). A
/// deregistration keeps the row with no care-of address, so a captured request stays refused.
struct MobilityBinding {
  std::string home_address;
  std::string care_of;               ///< empty: not registered
  std::int64_t expires = 0;          ///< unix seconds
  std::uint64_t identification = 0;  ///< the last one accepted
  std::int64_t registered = 0;       ///< unix seconds of that registration
};

/// Seed 002: a roamer's accounting for its home network, kept from the commit that made it until
/// the home network answered it, so a restart of the visited node loses none (issue 13 item 5).
struct OutboxRecord {
  std::string node;        ///< the node that queued it: each node delivers its own
  std::string partner;     ///< the home network (roaming.partners[].name)
  std::int64_t seq = 0;    ///< delivery order within the partner's queue
  std::string packet_hex;  ///< the Accounting-Request as encoded (Identifier, authenticators set on sending)
  std::int64_t created = 0;
};

/// A charge for one call (seed 003 claims 2-3: Kerberos billing), bound to the Kerberos principal
/// that posted it. (principal, call_id) is unique: a retried post is one charge.
struct CallRecord {
  std::string principal;  ///< "<identity code>@REALM", as the billing service authenticated it
  std::string call_id;
  std::string callee;
  std::int64_t started = 0;   ///< unix seconds
  std::int64_t seconds = 0;   ///< duration
  std::int64_t recorded = 0;  ///< unix seconds, when the billing service wrote it
};

/// A 64-bit identification as a signed column with the same order (the top bit flipped), and back.
inline std::int64_t to_ordered_int64(std::uint64_t v) {
  return static_cast<std::int64_t>(v ^ (std::uint64_t{1} << 63));
}
inline std::uint64_t from_ordered_int64(std::int64_t v) {
  return static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63);
}

struct Change {
  enum class Kind {
    put_session,
    end_session,
    put_lease,
    free_lease,
    put_dns_removal,
    free_dns_removal,
    put_seen_signal,
    put_ended_session,
    put_mobility_binding,
    put_outbox,
    delete_outbox
  };
  Kind kind;
  /// put_session: the record; end_session: its sid; put_dns_removal: the ended session whose
  /// records the operator's DNS server must still drop (sid, hostname, ipv4); free_dns_removal: sid
  SessionRecord session;
  Lease lease;                   ///< put_lease: the lease; free_lease: pool + ip
  SeenSignal signal = {};        ///< put_seen_signal (expired ones are pruned in the same transaction)
  EndedSession ended = {};       ///< put_ended_session
  MobilityBinding binding = {};  ///< put_mobility_binding
  OutboxRecord outbox = {};      ///< put_outbox; delete_outbox: node, partner, seq
};

/// What a committed batch did not write because another node got there first (ChangeLog::apply).
struct Refused {
  /// Pool offers (put_lease, not bound): another subscriber holds the address (issue 14 item 3).
  std::vector<Lease> offers;
  /// Bindings older than the stored one: another Home Agent node accepted a later identification
  /// for the home address (RFC 5944 5.7 across nodes). Each is the stored binding when the store
  /// could read it, otherwise the refused one with care_of "?" (the caller only learns it lost).
  std::vector<MobilityBinding> bindings;
  bool empty() const { return offers.empty() && bindings.empty(); }
};

}  // namespace mobix
