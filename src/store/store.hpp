#pragma once
// Storage interfaces per domain (DESIGN.md "Storage"). The embedded backend is SQLite;
// a PostgreSQL backend implements the same interfaces.
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace mobix {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// A write would break a uniqueness rule (e.g. two subscribers with one MSISDN).
class StoreConflict : public StoreError {
 public:
  using StoreError::StoreError;
};

enum class IdentityKind { id, msisdn, imsi, username, serial, hostname };

class SubscriberRepository {
 public:
  virtual ~SubscriberRepository() = default;
  virtual std::vector<Subscriber> list_subscribers() = 0;
  virtual std::optional<Subscriber> find_subscriber(IdentityKind kind, std::string_view value) = 0;
  /// Returns the stored subscriber with its new id; throws StoreConflict.
  virtual Subscriber add_subscriber(Subscriber s) = 0;
  /// Throws StoreConflict, or StoreError when the id does not exist.
  virtual void update_subscriber(const Subscriber& s) = 0;
  virtual bool remove_subscriber(std::int64_t id) = 0;
  virtual std::size_t count_subscribers() = 0;
};

/// Other nodes' committed session changes, for the in-memory tables of nodes that share one store
/// (issue 14 item 4). A hint, not a log: notifications are lost while the feed is disconnected, so
/// after every (re)connection `resync` runs and the caller reloads from the store. The handlers run
/// on the feed's own thread.
class SessionFeed {
 public:
  struct Handler {
    std::function<void(const SessionRecord&)> put;    ///< started or updated on another node
    std::function<void(const std::string& sid)> end;  ///< ended (by any node)
    std::function<void(const EndedSession&)> ended;   ///< a (NAS, Acct-Session-Id) ended for good
    std::function<void()> resync;                     ///< reload: notifications may have been lost
  };
  virtual ~SessionFeed() = default;
};

/// Access sessions, pool leases and the memory of ended accounting sessions (the access role).
class SessionRepository {
 public:
  virtual ~SessionRepository() = default;
  /// The feed of other nodes' changes, or null when no other node can write (the embedded store).
  virtual std::unique_ptr<SessionFeed> follow_sessions(SessionFeed::Handler) { return nullptr; }
  virtual std::vector<SessionRecord> load_sessions() = 0;
  /// The leases of `pool`, or of every pool when it is empty.
  virtual std::vector<Lease> load_leases(std::string_view pool) = 0;
  /// Accounting sessions that ended at or after `since`, oldest first.
  virtual std::vector<EndedSession> load_ended_sessions(std::int64_t since) = 0;
};

/// The DNS removal journal (seed 002): ended sessions whose records an external DNS server
/// has not confirmed removing yet (the DNS role's publisher).
class DnsJournal {
 public:
  virtual ~DnsJournal() = default;
  virtual std::vector<SessionRecord> load_dns_removals() = 0;
};

/// The gateway's replay memory (seed 001 step E): signals it acted on, never again before they
/// expire.
class SignalReplayMemory {
 public:
  virtual ~SignalReplayMemory() = default;
  /// Signals that have not expired at `now`.
  virtual std::vector<SeenSignal> load_seen_signals(std::uint32_t now) = 0;
};

/// A singleton job's write whose lease another holder has taken over: nothing was written.
class StoreFenced : public StoreError {
 public:
  using StoreError::StoreError;
};

/// Leases on singleton jobs (issue 14 item 5), timed by the store's clock so nodes need not agree
/// on theirs.
class JobLeaseRepository {
 public:
  virtual ~JobLeaseRepository() = default;
  /// Takes `job` for `holder` for `ttl_ms` when nobody holds it or its lease has expired (the epoch
  /// then grows), or extends it when `holder` has it. The epoch held; nullopt when another holder
  /// has a live lease. Throws StoreError.
  virtual std::optional<std::int64_t> claim_job(const std::string& job, const std::string& holder,
                                                std::int64_t ttl_ms) = 0;
  /// Lets the job go at once (a clean stop), so another node need not wait for the lease to expire.
  virtual void release_job(const JobLease& lease) = 0;
  /// This process's name as a holder: unique among the nodes (and across its restarts).
  virtual std::string job_holder() const = 0;
};

/// Where group commit writes: a batch of changes to any of the domains above, in one transaction.
class ChangeLog {
 public:
  virtual ~ChangeLog() = default;
  /// Applies the batch in one transaction, durable (fsync'd) when this returns; throws StoreError.
  /// With `fence`, only while that lease is still the job's: otherwise nothing is written and it
  /// throws StoreFenced (the lease row is locked until COMMIT, so a takeover waits for this write).
  /// Returns what it did not write because another node got there first (the rest of the batch is
  /// committed): pool offers whose address another subscriber holds (issue 14 item 3), and mobility
  /// bindings older than the stored one (another Home Agent node accepted a later registration).
  /// Both backends apply the same rules; with the embedded store only one node writes and its
  /// memory prevents a refusal.
  virtual Refused apply(const std::vector<Change>& batch, const JobLease* fence) = 0;
};

/// Seed 004's provisioning data: the valid-serial database (183), the operational user records
/// (63) and their billing data (24). Every write is its own durable transaction.
class BoxRepository {
 public:
  enum class Key { cb_id, serial, cb_name };
  virtual ~BoxRepository() = default;
  /// Adds or replaces (a re-mint) a serial; throws StoreError.
  virtual void put_valid_serial(const ValidSerial& v) = 0;
  virtual std::optional<ValidSerial> find_valid_serial(std::string_view serial) = 0;
  /// Marks a serial revoked at `now`; false when unknown.
  virtual bool revoke_serial(std::string_view serial, std::int64_t now) = 0;
  /// The record and its billing data in one transaction; throws StoreConflict when the CB ID,
  /// CB Name or serial is already registered.
  virtual void add_box(const BoxRecord& r, const BoxBilling& b) = 0;
  virtual std::optional<BoxRecord> find_box(Key key, std::string_view value) = 0;
  /// Every record, by CB Name; with `state`, only those in it.
  virtual std::vector<BoxRecord> list_boxes(std::optional<BoxState> state = std::nullopt) = 0;
  /// Writes `r` when the stored record still has `r.version` (then stored as version + 1); false
  /// when another writer came first (re-read and decide again). Throws StoreConflict.
  virtual bool update_box(const BoxRecord& r) = 0;
  virtual std::optional<BoxBilling> find_billing(std::string_view cb_id) = 0;
};

/// Seed 003's devices (identity codes and initiating information) and the Home Agent's mobility
/// bindings (written by group commit: Change::Kind::put_mobility_binding).
enum class DeviceKey { identity_code, home_address };
class DeviceRepository {
 public:
  virtual ~DeviceRepository() = default;
  /// Throws StoreConflict when the identity code or home address is taken. The subscriber is the
  /// directory's (the caller checks it exists: the directory may be LDAP).
  virtual void add_device(const Device& d) = 0;
  virtual std::optional<Device> find_device(DeviceKey key, std::string_view value) = 0;
  /// True when find_device may wait on the network (LDAP): callers on an event loop ask from a
  /// thread pool then. The stores answer from local memory or one query and say false.
  virtual bool blocking() const { return false; }
  /// By identity code; with `subscriber_id`, only that subscriber's.
  virtual std::vector<Device> list_devices(std::int64_t subscriber_id = 0) = 0;
  virtual bool remove_device(std::string_view identity_code) = 0;
  virtual std::vector<MobilityBinding> load_mobility_bindings() = 0;
  /// One home address's binding (also one without a care-of address: a deregistration).
  virtual std::optional<MobilityBinding> find_mobility_binding(std::string_view home_address) = 0;
  /// Writes `r` durably unless (principal, call_id) exists; returns the stored record either way
  /// and whether this call wrote it.
  virtual std::pair<CallRecord, bool> add_call_record(const CallRecord& r) = 0;
  /// By time; with `principal`, only its records.
  virtual std::vector<CallRecord> list_call_records(const std::string& principal = {}) = 0;
};

/// Seed 002: the visited side's accounting outbox (written by group commit: put_outbox,
/// delete_outbox once the home network answered).
class RoamingOutbox {
 public:
  virtual ~RoamingOutbox() = default;
  /// `node`'s undelivered accounting, by partner and in order.
  virtual std::vector<OutboxRecord> load_outbox(std::string_view node) = 0;
};

struct StoreConfig;

class Store : public SubscriberRepository,
              public SessionRepository,
              public DnsJournal,
              public SignalReplayMemory,
              public BoxRepository,
              public DeviceRepository,
              public RoamingOutbox,
              public JobLeaseRepository,
              public ChangeLog {
 public:
  /// Opens (creating if needed) and migrates the embedded store; throws StoreError.
  static std::unique_ptr<Store> open_sqlite(const std::string& path);
  /// Connects to the shared store; with `migrate`, brings the schema up to date (under a lock),
  /// otherwise refuses an older schema. Throws StoreError (unreachable, refused, newer schema).
  static std::unique_ptr<Store> open_postgresql(const StoreConfig& cfg, bool migrate);
  /// The backend `cfg` names; `migrate` as above (SQLite always migrates: one node owns the file).
  static std::unique_ptr<Store> open(const StoreConfig& cfg, bool migrate);
  /// The schema version this build writes (both backends number their migrations alike).
  static int current_schema_version();
  virtual int schema_version() = 0;
};

}  // namespace mobix
