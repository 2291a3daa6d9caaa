// The embedded store: SQLite in WAL mode with synchronous=FULL, so a committed
// transaction survives a crash (kill -9, power loss) before we acknowledge it.
#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "store/box_doc.hpp"
#include "store/store.hpp"

namespace mobix {
namespace {

// Numbered migrations; index + 1 is the schema version they lead to.
const char* const kMigrations[] = {
    // 1: subscribers, sessions, leases
    R"sql(
CREATE TABLE subscribers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  msisdn TEXT, imsi TEXT, username TEXT, serial TEXT,
  password TEXT NOT NULL DEFAULT '', framed_ip TEXT NOT NULL DEFAULT '', hostname TEXT NOT NULL DEFAULT '',
  attrs TEXT NOT NULL DEFAULT '{}');
CREATE UNIQUE INDEX subscribers_msisdn ON subscribers(msisdn) WHERE msisdn IS NOT NULL;
CREATE UNIQUE INDEX subscribers_imsi ON subscribers(imsi) WHERE imsi IS NOT NULL;
CREATE UNIQUE INDEX subscribers_username ON subscribers(username) WHERE username IS NOT NULL;
CREATE UNIQUE INDEX subscribers_serial ON subscribers(serial) WHERE serial IS NOT NULL;
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY, context TEXT NOT NULL, ipv4 TEXT NOT NULL, ipv6_prefix TEXT NOT NULL,
  msisdn TEXT NOT NULL, imsi TEXT NOT NULL, username TEXT NOT NULL, nas TEXT NOT NULL, apn TEXT NOT NULL,
  acct_session_id TEXT NOT NULL, subscriber_id INTEGER NOT NULL, started INTEGER NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE leases (
  pool TEXT NOT NULL, ip TEXT NOT NULL, subscriber_id INTEGER NOT NULL, bound INTEGER NOT NULL, expires INTEGER NOT NULL,
  PRIMARY KEY (pool, ip));
)sql",
    // 2: the relay finds mobile servers by host name (seed 001 step C)
    R"sql(
CREATE INDEX subscribers_hostname ON subscribers(hostname) WHERE hostname <> '';
)sql",
    // 3: a session remembers the host name its DNS records use (seed 002 [0029]); for a roaming
    // terminal it comes from the home network, so it cannot be looked up again after a restart
    R"sql(
ALTER TABLE sessions ADD COLUMN hostname TEXT NOT NULL DEFAULT '';
)sql",
    // 4: removals an RFC 2136 server still owes us, written with the session's end (seed 002: no
    // stale record survives a crash between the Stop and the server's answer)
    R"sql(
CREATE TABLE dns_removals (sid TEXT PRIMARY KEY, hostname TEXT NOT NULL, ipv4 TEXT NOT NULL);
)sql",
    // 5: the gateway's replay memory survives a restart (seed 001 step E)
    R"sql(
CREATE TABLE seen_signals (tunnel_id INTEGER PRIMARY KEY, expires INTEGER NOT NULL);
)sql",
    // 6: replay-safe accounting (issue 12 item 2): a session is bound to the RADIUS client that
    // started it, and an ended (NAS, Acct-Session-Id) is remembered so a replayed Start cannot revive it
    R"sql(
ALTER TABLE sessions ADD COLUMN nas_address TEXT NOT NULL DEFAULT '';
CREATE TABLE ended_sessions (nas TEXT NOT NULL, acct_session_id TEXT NOT NULL, ended INTEGER NOT NULL,
  PRIMARY KEY (nas, acct_session_id));
CREATE INDEX ended_sessions_ended ON ended_sessions(ended);
)sql",
    // 7: PostgreSQL tells other nodes about session changes (issue 14); one node owns a SQLite file
    "SELECT 1;",
    // 8: PostgreSQL makes one live session per (context, address) a constraint for several nodes;
    // here one node's session table is the only writer
    "SELECT 1;",
    // 9: seed 004 provisioning: the valid-serial database (183), the operational user records (63,
    // key columns + a JSON document) and their billing data (24), linked by the CB ID
    R"sql(
CREATE TABLE valid_serials (serial TEXT PRIMARY KEY, password_sha256 TEXT NOT NULL, cert_serial TEXT NOT NULL,
  minted INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE boxes (cb_id TEXT PRIMARY KEY, cb_name TEXT NOT NULL UNIQUE, serial TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE INDEX boxes_state ON boxes(state);
CREATE TABLE box_billing (cb_id TEXT PRIMARY KEY REFERENCES boxes(cb_id) ON DELETE CASCADE, doc TEXT NOT NULL);
)sql",
    // 10: singleton jobs run on one node at a time under a lease with an epoch (issue 14 item 5);
    // host names are unique (the relay and the DNS find a subscriber by it)
    R"sql(
CREATE TABLE job_leases (job TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL);
DROP INDEX subscribers_hostname;
CREATE UNIQUE INDEX subscribers_hostname ON subscribers(hostname) WHERE hostname <> '';
)sql",
    // 11: seed 003: devices by identity code with their initiating information (the subscriber is
    // the directory's, embedded or LDAP: no foreign key), and the Home Agent's mobility bindings
    // (RFC 5944 3.8.3) with the last identification accepted
    R"sql(
CREATE TABLE devices (identity_code TEXT PRIMARY KEY,
  subscriber_id INTEGER NOT NULL,
  home_address TEXT NOT NULL UNIQUE, mip_spi INTEGER NOT NULL, mip_key TEXT NOT NULL, created INTEGER NOT NULL);
CREATE INDEX devices_subscriber ON devices(subscriber_id);
CREATE TABLE call_records (principal TEXT NOT NULL, call_id TEXT NOT NULL, callee TEXT NOT NULL,
  started INTEGER NOT NULL, seconds INTEGER NOT NULL, recorded INTEGER NOT NULL, PRIMARY KEY (principal, call_id));
CREATE TABLE mobility_bindings (home_address TEXT PRIMARY KEY, care_of TEXT NOT NULL, expires INTEGER NOT NULL,
  identification INTEGER NOT NULL, registered INTEGER NOT NULL);
)sql",
    // 12: seed 002: the visited side's accounting for home networks, kept until delivered
    R"sql(
CREATE TABLE roaming_outbox (node TEXT NOT NULL, partner TEXT NOT NULL, seq INTEGER NOT NULL,
  packet TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (node, partner, seq));
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

constexpr const char* kDeviceSelect =
    "SELECT identity_code, subscriber_id, home_address, mip_spi, mip_key, created FROM devices WHERE ";

constexpr const char* kCallSelect =
    "SELECT principal, call_id, callee, started, seconds, recorded FROM call_records ";

class Db {
 public:
  explicit Db(const std::string& path) {
    // The store holds RADIUS and mail passwords in clear (the proxies must present them): owner
    // only. SQLite gives its -wal and -shm files the database file's permissions.
    if (path != ":memory:") {
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::fchmod(fd, 0600);
        ::close(fd);
      }
    }
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw StoreError("cannot open store " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~Db() {
    for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    sqlite3_close(db_);
  }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  sqlite3* get() const { return db_; }
  /// A prepared statement kept for the connection's lifetime (preparing costs more than
  /// running the hot-path lookups).
  sqlite3_stmt* cached(const std::string& sql) {
    auto& st = cache_[sql];
    if (!st && sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK)
      throw StoreError(std::string("store: prepare failed: ") + sqlite3_errmsg(db_));
    return st;
  }
  void exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw StoreError(std::string("store: ") + msg);
    }
  }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class Stmt {
 public:
  /// Uses the connection's cached statement for `sql`; resets it when done.
  Stmt(Db& db, const std::string& sql) : db_(db.get()), st_(db.cached(sql)) {}
  ~Stmt() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_or_null(int i, std::string_view v) {
    if (v.empty())
      sqlite3_bind_null(st_, i);
    else
      bind(i, v);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  /// Returns true while there is a row.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_CONSTRAINT) throw StoreConflict(sqlite3_errmsg(db_));
    throw StoreError(std::string("store: ") + sqlite3_errmsg(db_));
  }
  void run() {
    step();
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(st_, col)))
             : std::string();
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
};

std::string attrs_to_json(const std::map<std::string, std::string>& attrs) {
  return nlohmann::json(attrs).dump();
}

std::map<std::string, std::string> attrs_from_json(const std::string& s) {
  std::map<std::string, std::string> out;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

constexpr const char* kSubscriberColumns =
    "id, coalesce(msisdn,''), coalesce(imsi,''), coalesce(username,''), coalesce(serial,''), password, "
    "framed_ip, "
    "hostname, attrs";

Subscriber read_subscriber(const Stmt& st) {
  Subscriber s;
  s.id = st.integer(0);
  s.msisdn = st.text(1);
  s.imsi = st.text(2);
  s.username = st.text(3);
  s.serial = st.text(4);
  s.password = st.text(5);
  s.framed_ip = st.text(6);
  s.hostname = st.text(7);
  s.attrs = attrs_from_json(st.text(8));
  return s;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : write_(path), read_(path) {
    write_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    read_.exec("PRAGMA synchronous=FULL;");
    migrate();
  }

  int schema_version() override {
    std::lock_guard lock(write_mu_);
    return current_version();
  }

  std::vector<Subscriber> list_subscribers() override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, (std::string("SELECT ") + kSubscriberColumns + " FROM subscribers ORDER BY id").c_str());
    std::vector<Subscriber> out;
    while (st.step()) out.push_back(read_subscriber(st));
    return out;
  }

  std::optional<Subscriber> find_subscriber(IdentityKind kind, std::string_view value) override {
    const char* col = "id";
    switch (kind) {
      case IdentityKind::id:
        col = "id";
        break;
      case IdentityKind::msisdn:
        col = "msisdn";
        break;
      case IdentityKind::imsi:
        col = "imsi";
        break;
      case IdentityKind::username:
        col = "username";
        break;
      case IdentityKind::serial:
        col = "serial";
        break;
      case IdentityKind::hostname:
        col = "hostname";
        break;
    }
    std::lock_guard lock(read_mu_);
    Stmt st(
        read_,
        (std::string("SELECT ") + kSubscriberColumns + " FROM subscribers WHERE " + col + " = ?1").c_str());
    if (kind == IdentityKind::id) {
      std::int64_t id = 0;
      try {
        id = std::stoll(std::string(value));
      } catch (const std::exception&) {
        return std::nullopt;
      }
      st.bind(1, id);
    } else {
      st.bind(1, value);
    }
    if (st.step()) return read_subscriber(st);
    return std::nullopt;
  }

  Subscriber add_subscriber(Subscriber s) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "INSERT INTO subscribers (msisdn, imsi, username, serial, password, framed_ip, hostname, attrs) "
            "VALUES (?1,?2,?3,?4,?5,?6,?7,?8)");
    bind_subscriber(st, s);
    st.run();
    s.id = sqlite3_last_insert_rowid(write_.get());
    return s;
  }

  void update_subscriber(const Subscriber& s) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "UPDATE subscribers SET msisdn=?1, imsi=?2, username=?3, serial=?4, password=?5, framed_ip=?6, "
            "hostname=?7, attrs=?8 WHERE id=?9");
    bind_subscriber(st, s);
    st.bind(9, s.id);
    st.run();
    if (sqlite3_changes(write_.get()) == 0) throw StoreError("no subscriber with id " + std::to_string(s.id));
  }

  bool remove_subscriber(std::int64_t id) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_, "DELETE FROM subscribers WHERE id=?1");
    st.bind(1, id);
    st.run();
    return sqlite3_changes(write_.get()) > 0;
  }

  std::size_t count_subscribers() override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT count(*) FROM subscribers");
    st.step();
    return static_cast<std::size_t>(st.integer(0));
  }

  std::vector<SessionRecord> load_sessions() override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_,
            "SELECT sid, context, ipv4, ipv6_prefix, msisdn, imsi, username, nas, apn, acct_session_id, "
            "subscriber_id, started, last_seen, hostname, nas_address FROM sessions");
    std::vector<SessionRecord> out;
    while (st.step()) {
      SessionRecord r;
      r.sid = st.text(0);
      r.context = st.text(1);
      r.ipv4 = st.text(2);
      r.ipv6_prefix = st.text(3);
      r.msisdn = st.text(4);
      r.imsi = st.text(5);
      r.username = st.text(6);
      r.nas = st.text(7);
      r.apn = st.text(8);
      r.acct_session_id = st.text(9);
      r.subscriber_id = st.integer(10);
      r.started = st.integer(11);
      r.last_seen = st.integer(12);
      r.hostname = st.text(13);
      r.nas_address = st.text(14);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<SessionRecord> load_dns_removals() override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT sid, hostname, ipv4 FROM dns_removals");
    std::vector<SessionRecord> out;
    while (st.step()) {
      SessionRecord r;
      r.sid = st.text(0);
      r.hostname = st.text(1);
      r.ipv4 = st.text(2);
      out.push_back(std::move(r));
    }
    return out;
  }

  std::vector<SeenSignal> load_seen_signals(std::uint32_t now) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT tunnel_id, expires FROM seen_signals WHERE expires >= ?1");
    st.bind(1, std::int64_t{now});
    std::vector<SeenSignal> out;
    while (st.step())
      out.push_back(
          SeenSignal{static_cast<std::uint64_t>(st.integer(0)), static_cast<std::uint32_t>(st.integer(1))});
    return out;
  }

  std::vector<EndedSession> load_ended_sessions(std::int64_t since) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT nas, acct_session_id, ended FROM ended_sessions WHERE ended >= ?1 ORDER BY ended");
    st.bind(1, since);
    std::vector<EndedSession> out;
    while (st.step()) out.push_back(EndedSession{st.text(0), st.text(1), st.integer(2), 0});
    return out;
  }

  std::vector<Lease> load_leases(std::string_view pool) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT pool, ip, subscriber_id, bound, expires FROM leases WHERE ?1 = '' OR pool = ?1");
    st.bind(1, pool);
    std::vector<Lease> out;
    while (st.step())
      out.push_back(Lease{st.text(0), st.text(1), st.integer(2), st.integer(3) != 0, st.integer(4)});
    return out;
  }

  std::optional<std::int64_t> claim_job(const std::string& job, const std::string& holder,
                                        std::int64_t ttl_ms) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "INSERT INTO job_leases (job, holder, epoch, expires_ms) VALUES (?1, ?2, 1, ?3 + ?4) "
            "ON CONFLICT (job) DO UPDATE SET epoch = CASE WHEN holder = excluded.holder THEN epoch ELSE "
            "epoch + 1 END, holder = excluded.holder, expires_ms = excluded.expires_ms "
            "WHERE holder = excluded.holder OR expires_ms < ?3 RETURNING epoch");
    st.bind(1, job).bind(2, holder).bind(3, now_ms()).bind(4, ttl_ms);
    if (!st.step()) return std::nullopt;
    return st.integer(0);
  }

  std::string job_holder() const override { return "mobix/" + std::to_string(::getpid()) + "/" + started_; }

  void release_job(const JobLease& l) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_, "UPDATE job_leases SET expires_ms = 0 WHERE job = ?1 AND holder = ?2 AND epoch = ?3");
    st.bind(1, l.job).bind(2, l.holder).bind(3, l.epoch).run();
  }

  Refused apply(const std::vector<Change>& batch, const JobLease* fence) override {
    if (batch.empty()) return {};
    std::lock_guard lock(write_mu_);
    Refused refused;
    write_.exec("BEGIN IMMEDIATE");
    try {
      if (fence) check_fence(*fence);
      Stmt put_session(
          write_,
          "INSERT OR REPLACE INTO sessions (sid, context, ipv4, ipv6_prefix, msisdn, imsi, username, "
          "nas, apn, acct_session_id, subscriber_id, started, last_seen, hostname, nas_address) "
          "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)");
      Stmt end_session(write_, "DELETE FROM sessions WHERE sid=?1");
      Stmt put_lease(
          write_,
          "INSERT OR REPLACE INTO leases (pool, ip, subscriber_id, bound, expires) VALUES (?1,?2,?3,?4,?5)");
      // The same rules as the shared store's (pg_batch.cpp): an offer claims only a free address, the
      // subscriber's own, or an expired offer; a timed-out offer is freed only while still unused.
      Stmt claim_lease(write_,
                       "INSERT INTO leases (pool, ip, subscriber_id, bound, expires) VALUES (?1,?2,?3,0,?4) "
                       "ON CONFLICT (pool, ip) DO UPDATE SET expires=excluded.expires, bound=bound AND "
                       "subscriber_id = excluded.subscriber_id, subscriber_id=excluded.subscriber_id WHERE "
                       "subscriber_id = excluded.subscriber_id OR (bound = 0 AND expires < ?5)");
      Stmt free_lease(write_,
                      "DELETE FROM leases WHERE pool=?1 AND ip=?2 AND (?4 = 0 OR (bound = 0 AND "
                      "subscriber_id = ?3 AND expires <= ?4))");
      const auto now = static_cast<std::int64_t>(std::time(nullptr));
      Stmt put_removal(write_, "INSERT OR REPLACE INTO dns_removals (sid, hostname, ipv4) VALUES (?1,?2,?3)");
      Stmt free_removal(write_, "DELETE FROM dns_removals WHERE sid=?1");
      Stmt put_seen(write_, "INSERT OR REPLACE INTO seen_signals (tunnel_id, expires) VALUES (?1,?2)");
      Stmt prune_seen(write_, "DELETE FROM seen_signals WHERE expires < ?1");
      Stmt put_ended(write_,
                     "INSERT OR REPLACE INTO ended_sessions (nas, acct_session_id, ended) VALUES (?1,?2,?3)");
      Stmt prune_ended(write_, "DELETE FROM ended_sessions WHERE ended < ?1");
      // A binding never goes back to an older identification (RFC 5944 5.7).
      Stmt put_binding(
          write_,
          "INSERT INTO mobility_bindings (home_address, care_of, expires, identification, registered) "
          "VALUES (?1,?2,?3,?4,?5) ON CONFLICT (home_address) DO UPDATE SET care_of=excluded.care_of, "
          "expires=excluded.expires, identification=excluded.identification, "
          "registered=excluded.registered WHERE identification <= excluded.identification");
      Stmt put_outbox(write_,
                      "INSERT OR IGNORE INTO roaming_outbox (node, partner, seq, packet, created) "
                      "VALUES (?1,?2,?3,?4,?5)");
      Stmt delete_outbox(write_, "DELETE FROM roaming_outbox WHERE node=?1 AND partner=?2 AND seq=?3");
      std::int64_t forget_ended_before = 0;
      for (const auto& c : batch) {
        switch (c.kind) {
          case Change::Kind::put_session: {
            const auto& r = c.session;
            put_session.bind(1, r.sid)
                .bind(2, r.context)
                .bind(3, r.ipv4)
                .bind(4, r.ipv6_prefix)
                .bind(5, r.msisdn);
            put_session.bind(6, r.imsi)
                .bind(7, r.username)
                .bind(8, r.nas)
                .bind(9, r.apn)
                .bind(10, r.acct_session_id);
            put_session.bind(11, r.subscriber_id)
                .bind(12, r.started)
                .bind(13, r.last_seen)
                .bind(14, r.hostname)
                .bind(15, r.nas_address);
            put_session.run();
            break;
          }
          case Change::Kind::end_session:
            end_session.bind(1, c.session.sid).run();
            break;
          case Change::Kind::put_lease:
            if (!c.lease.bound) {
              claim_lease.bind(1, c.lease.pool).bind(2, c.lease.ip).bind(3, c.lease.subscriber_id);
              claim_lease.bind(4, c.lease.expires).bind(5, now).run();
              if (sqlite3_changes(write_.get()) == 0) refused.offers.push_back(c.lease);
              break;
            }
            put_lease.bind(1, c.lease.pool).bind(2, c.lease.ip).bind(3, c.lease.subscriber_id);
            put_lease.bind(4, std::int64_t{1}).bind(5, c.lease.expires).run();
            break;
          case Change::Kind::free_lease:
            free_lease.bind(1, c.lease.pool).bind(2, c.lease.ip).bind(3, c.lease.subscriber_id);
            free_lease.bind(4, c.lease.bound ? 0 : c.lease.expires).run();
            break;
          case Change::Kind::put_dns_removal:
            put_removal.bind(1, c.session.sid).bind(2, c.session.hostname).bind(3, c.session.ipv4).run();
            break;
          case Change::Kind::free_dns_removal:
            free_removal.bind(1, c.session.sid).run();
            break;
          case Change::Kind::put_seen_signal:
            // The id is 64 random bits; SQLite integers are signed 64-bit, the cast round-trips.
            put_seen.bind(1, static_cast<std::int64_t>(c.signal.tunnel_id))
                .bind(2, std::int64_t{c.signal.expires})
                .run();
            prune_seen.bind(1, static_cast<std::int64_t>(std::time(nullptr))).run();
            break;
          case Change::Kind::put_ended_session:
            put_ended.bind(1, c.ended.nas).bind(2, c.ended.acct_session_id).bind(3, c.ended.ended).run();
            forget_ended_before = std::max(forget_ended_before, c.ended.forget_before);
            break;
          case Change::Kind::put_mobility_binding: {
            const auto& b = c.binding;
            put_binding.bind(1, b.home_address).bind(2, b.care_of).bind(3, b.expires);
            put_binding.bind(4, to_ordered_int64(b.identification)).bind(5, b.registered).run();
            if (sqlite3_changes(write_.get()) == 0) refused.bindings.push_back(stored_binding(b));
            break;
          }
          case Change::Kind::put_outbox: {
            const auto& o = c.outbox;
            put_outbox.bind(1, o.node).bind(2, o.partner).bind(3, o.seq).bind(4, o.packet_hex);
            put_outbox.bind(5, o.created).run();
            break;
          }
          case Change::Kind::delete_outbox:
            delete_outbox.bind(1, c.outbox.node).bind(2, c.outbox.partner).bind(3, c.outbox.seq).run();
            break;
        }
      }
      if (forget_ended_before > 0) prune_ended.bind(1, forget_ended_before).run();
      write_.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(write_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
    return refused;
  }

 private:
  static Device device_from(const Stmt& st) {
    return Device{st.text(0), st.integer(1), st.text(2), static_cast<std::uint32_t>(st.integer(3)),
                  st.text(4), st.integer(5)};
  }

  static void bind_subscriber(Stmt& st, const Subscriber& s) {
    st.bind_or_null(1, s.msisdn)
        .bind_or_null(2, s.imsi)
        .bind_or_null(3, s.username)
        .bind_or_null(4, s.serial);
    st.bind(5, s.password).bind(6, s.framed_ip).bind(7, s.hostname).bind(8, attrs_to_json(s.attrs));
  }

  // ---- seed 003 devices and mobility bindings (DeviceRepository) ----

  static constexpr const char* kBindingSelect =
      "SELECT home_address, care_of, expires, identification, registered FROM mobility_bindings "
      "WHERE home_address=?1";
  static MobilityBinding binding_from(const Stmt& st) {
    return {st.text(0), st.text(1), st.integer(2), from_ordered_int64(st.integer(3)), st.integer(4)};
  }

  /// The stored binding that kept `refused` out, read inside the writing transaction.
  MobilityBinding stored_binding(const MobilityBinding& refused) {
    Stmt st(write_, kBindingSelect);
    st.bind(1, refused.home_address);
    if (!st.step()) return {refused.home_address, "?", refused.expires, refused.identification, 0};
    return binding_from(st);
  }

  void add_device(const Device& d) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "INSERT INTO devices (identity_code, subscriber_id, home_address, mip_spi, mip_key, created) "
            "VALUES (?1,?2,?3,?4,?5,?6)");
    st.bind(1, d.identity_code).bind(2, d.subscriber_id).bind(3, d.home_address);
    st.bind(4, std::int64_t{d.mip_spi}).bind(5, d.mip_key_hex).bind(6, d.created).run();
  }

  std::optional<Device> find_device(DeviceKey key, std::string_view value) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, std::string(kDeviceSelect) +
                       (key == DeviceKey::identity_code ? "identity_code=?1" : "home_address=?1"));
    st.bind(1, value);
    if (!st.step()) return std::nullopt;
    return device_from(st);
  }

  std::vector<Device> list_devices(std::int64_t subscriber_id) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, std::string(kDeviceSelect) + "(?1 = 0 OR subscriber_id=?1) ORDER BY identity_code");
    st.bind(1, subscriber_id);
    std::vector<Device> out;
    while (st.step()) out.push_back(device_from(st));
    return out;
  }

  bool remove_device(std::string_view identity_code) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_, "DELETE FROM devices WHERE identity_code=?1");
    st.bind(1, identity_code).run();
    return sqlite3_changes(write_.get()) > 0;
  }

  std::vector<MobilityBinding> load_mobility_bindings() override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_,
            "SELECT home_address, care_of, expires, identification, registered FROM mobility_bindings");
    std::vector<MobilityBinding> out;
    while (st.step())
      out.push_back(
          {st.text(0), st.text(1), st.integer(2), from_ordered_int64(st.integer(3)), st.integer(4)});
    return out;
  }

  std::vector<OutboxRecord> load_outbox(std::string_view node) override {
    std::lock_guard lock(read_mu_);
    Stmt st(
        read_,
        "SELECT node, partner, seq, packet, created FROM roaming_outbox WHERE node=?1 ORDER BY partner, seq");
    st.bind(1, node);
    std::vector<OutboxRecord> out;
    while (st.step()) out.push_back({st.text(0), st.text(1), st.integer(2), st.text(3), st.integer(4)});
    return out;
  }

  std::optional<MobilityBinding> find_mobility_binding(std::string_view home_address) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, kBindingSelect);
    st.bind(1, home_address);
    if (!st.step()) return std::nullopt;
    return binding_from(st);
  }

  std::pair<CallRecord, bool> add_call_record(const CallRecord& r) override {
    std::lock_guard lock(write_mu_);
    Stmt ins(write_,
             "INSERT INTO call_records (principal, call_id, callee, started, seconds, recorded) VALUES "
             "(?1,?2,?3,?4,?5,?6) ON CONFLICT (principal, call_id) DO NOTHING");
    ins.bind(1, r.principal).bind(2, r.call_id).bind(3, r.callee).bind(4, r.started).bind(5, r.seconds);
    ins.bind(6, r.recorded).run();
    bool wrote = sqlite3_changes(write_.get()) > 0;
    Stmt st(write_, std::string(kCallSelect) + "WHERE principal=?1 AND call_id=?2");
    st.bind(1, r.principal).bind(2, r.call_id);
    if (!st.step()) throw StoreError("store: the call record vanished");
    return {call_from(st), wrote};
  }

  std::vector<CallRecord> list_call_records(const std::string& principal) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_,
            std::string(kCallSelect) + "WHERE ?1 = '' OR principal=?1 ORDER BY recorded, principal, call_id");
    st.bind(1, principal);
    std::vector<CallRecord> out;
    while (st.step()) out.push_back(call_from(st));
    return out;
  }

  static CallRecord call_from(const Stmt& st) {
    return CallRecord{st.text(0), st.text(1), st.text(2), st.integer(3), st.integer(4), st.integer(5)};
  }

  // ---- seed 004 provisioning (BoxRepository) ----

  void put_valid_serial(const ValidSerial& v) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "INSERT OR REPLACE INTO valid_serials (serial, password_sha256, cert_serial, minted, revoked) "
            "VALUES (?1,?2,?3,?4,?5)");
    st.bind(1, v.serial)
        .bind(2, v.password_sha256)
        .bind(3, v.cert_serial)
        .bind(4, v.minted)
        .bind(5, v.revoked);
    st.run();
  }

  std::optional<ValidSerial> find_valid_serial(std::string_view serial) override {
    std::lock_guard lock(read_mu_);
    Stmt st(
        read_,
        "SELECT serial, password_sha256, cert_serial, minted, revoked FROM valid_serials WHERE serial=?1");
    st.bind(1, serial);
    if (!st.step()) return std::nullopt;
    return ValidSerial{st.text(0), st.text(1), st.text(2), st.integer(3), st.integer(4)};
  }

  bool revoke_serial(std::string_view serial, std::int64_t now) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_, "UPDATE valid_serials SET revoked=?2 WHERE serial=?1 AND revoked=0");
    st.bind(1, serial).bind(2, now).run();
    return sqlite3_changes(write_.get()) > 0;
  }

  void add_box(const BoxRecord& r, const BoxBilling& b) override {
    std::lock_guard lock(write_mu_);
    write_.exec("BEGIN IMMEDIATE");
    try {
      {
        Stmt st(write_,
                "INSERT INTO boxes (cb_id, cb_name, serial, state, version, doc) VALUES (?1,?2,?3,?4,?5,?6)");
        st.bind(1, r.cb_id).bind(2, r.cb_name).bind(3, r.serial).bind(4, to_string(r.state));
        st.bind(5, r.version).bind(6, box_to_doc(r)).run();
        Stmt bill(write_, "INSERT INTO box_billing (cb_id, doc) VALUES (?1,?2)");
        bill.bind(1, r.cb_id).bind(2, billing_to_doc(b)).run();
      }
      write_.exec("COMMIT");
    } catch (...) {
      sqlite3_exec(write_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }

  std::optional<BoxRecord> find_box(Key key, std::string_view value) override {
    const char* col = key == Key::cb_id ? "cb_id" : key == Key::serial ? "serial" : "cb_name";
    std::lock_guard lock(read_mu_);
    Stmt st(read_, std::string("SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE ") + col +
                       " = ?1");
    st.bind(1, value);
    if (!st.step()) return std::nullopt;
    return read_box(st);
  }

  std::vector<BoxRecord> list_boxes(std::optional<BoxState> state) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, state ? "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE state = ?1 "
                           "ORDER BY cb_name"
                         : "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes ORDER BY cb_name");
    if (state) st.bind(1, to_string(*state));
    std::vector<BoxRecord> out;
    while (st.step()) out.push_back(read_box(st));
    return out;
  }

  bool update_box(const BoxRecord& r) override {
    std::lock_guard lock(write_mu_);
    Stmt st(write_,
            "UPDATE boxes SET cb_name=?2, serial=?3, state=?4, version=version+1, doc=?5 "
            "WHERE cb_id=?1 AND version=?6");
    st.bind(1, r.cb_id).bind(2, r.cb_name).bind(3, r.serial).bind(4, to_string(r.state));
    st.bind(5, box_to_doc(r)).bind(6, r.version).run();
    return sqlite3_changes(write_.get()) > 0;
  }

  std::optional<BoxBilling> find_billing(std::string_view cb_id) override {
    std::lock_guard lock(read_mu_);
    Stmt st(read_, "SELECT cb_id, doc FROM box_billing WHERE cb_id=?1");
    st.bind(1, cb_id);
    if (!st.step()) return std::nullopt;
    return billing_from_doc(st.text(0), st.text(1));
  }

  static BoxRecord read_box(const Stmt& st) {
    BoxRecord r;
    r.cb_id = st.text(0);
    r.cb_name = st.text(1);
    r.serial = st.text(2);
    box_state_from_string(st.text(3), r.state);
    r.version = st.integer(4);
    box_from_doc(st.text(5), r);
    return r;
  }

  static std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  /// Inside the write transaction: the job is still `fence`'s (the same rule as mobix_fence in
  /// PostgreSQL).
  void check_fence(const JobLease& fence) {
    Stmt st(write_, "SELECT 1 FROM job_leases WHERE job = ?1 AND holder = ?2 AND epoch = ?3");
    st.bind(1, fence.job).bind(2, fence.holder).bind(3, fence.epoch);
    if (!st.step())
      throw StoreFenced("store: job " + fence.job + " lease epoch " + std::to_string(fence.epoch) +
                        " was taken over; its write is refused");
  }

  int current_version() {
    write_.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    Stmt st(write_, "SELECT coalesce(max(version), 0) FROM schema_version");
    st.step();
    return static_cast<int>(st.integer(0));
  }

  void migrate() {
    std::lock_guard lock(write_mu_);
    int v = current_version();
    if (v > kSchemaVersion)
      throw StoreError("store schema version " + std::to_string(v) + " is newer than this mobix (" +
                       std::to_string(kSchemaVersion) + "); upgrade mobix");
    for (int next = v; next < kSchemaVersion; ++next) {
      write_.exec("BEGIN IMMEDIATE");
      try {
        write_.exec(kMigrations[next]);
        write_.exec(("DELETE FROM schema_version; INSERT INTO schema_version VALUES (" +
                     std::to_string(next + 1) + ")")
                        .c_str());
        write_.exec("COMMIT");
      } catch (...) {
        sqlite3_exec(write_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
      spdlog::info("store migrated to schema version {}", next + 1);
    }
  }

  std::mutex write_mu_;
  Db write_;
  std::mutex read_mu_;
  Db read_;
  const std::string started_ = std::to_string(now_ms());  ///< a restart is another holder
};

}  // namespace

std::unique_ptr<Store> Store::open_sqlite(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace mobix
