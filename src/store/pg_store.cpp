// The shared store: PostgreSQL (issue 14), for several nodes over one database. The same domain
// interfaces as the embedded SQLite store, the same numbered schema versions, the same group
// commit: a batch is one transaction, committed with synchronous_commit on before any request in
// it is acknowledged. Writes are upserts on natural keys, so a request retransmitted to another
// node (or replayed after a lost COMMIT answer) is harmless.
#include <unistd.h>

#include <ctime>

#include <openssl/rand.h>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "store/box_doc.hpp"
#include "store/pg_batch.hpp"
#include "store/pg_connection.hpp"
#include "store/pg_feed.hpp"
#include "store/store.hpp"

namespace mobix {
namespace {

/// Numbered migrations; index + 1 is the schema version they lead to (the same versions as SQLite's).
const char* const kMigrations[] = {
    // 1: subscribers, sessions, leases
    R"sql(
CREATE TABLE subscribers (
  id BIGSERIAL PRIMARY KEY,
  msisdn TEXT UNIQUE, imsi TEXT UNIQUE, username TEXT UNIQUE, serial TEXT UNIQUE,
  password TEXT NOT NULL DEFAULT '', framed_ip TEXT NOT NULL DEFAULT '', hostname TEXT NOT NULL DEFAULT '',
  attrs TEXT NOT NULL DEFAULT '{}');
CREATE TABLE sessions (
  sid TEXT PRIMARY KEY, context TEXT NOT NULL, ipv4 TEXT NOT NULL, ipv6_prefix TEXT NOT NULL,
  msisdn TEXT NOT NULL, imsi TEXT NOT NULL, username TEXT NOT NULL, nas TEXT NOT NULL, apn TEXT NOT NULL,
  acct_session_id TEXT NOT NULL, subscriber_id BIGINT NOT NULL, started BIGINT NOT NULL, last_seen BIGINT NOT NULL);
CREATE TABLE leases (
  pool TEXT NOT NULL, ip TEXT NOT NULL, subscriber_id BIGINT NOT NULL, bound BOOLEAN NOT NULL, expires BIGINT NOT NULL,
  PRIMARY KEY (pool, ip));
)sql",
    // 2: the relay finds mobile servers by host name (seed 001 step C)
    "CREATE INDEX subscribers_hostname ON subscribers(hostname) WHERE hostname <> '';",
    // 3: a session remembers the host name its DNS records use (seed 002 [0029])
    "ALTER TABLE sessions ADD COLUMN hostname TEXT NOT NULL DEFAULT '';",
    // 4: removals an RFC 2136 server still owes us, written with the session's end (seed 002)
    "CREATE TABLE dns_removals (sid TEXT PRIMARY KEY, hostname TEXT NOT NULL, ipv4 TEXT NOT NULL);",
    // 5: the gateway's replay memory survives a restart (seed 001 step E)
    "CREATE TABLE seen_signals (tunnel_id BIGINT PRIMARY KEY, expires BIGINT NOT NULL);",
    // 6: replay-safe accounting (issue 12 item 2)
    R"sql(
ALTER TABLE sessions ADD COLUMN nas_address TEXT NOT NULL DEFAULT '';
CREATE TABLE ended_sessions (nas TEXT NOT NULL, acct_session_id TEXT NOT NULL, ended BIGINT NOT NULL,
  PRIMARY KEY (nas, acct_session_id));
CREATE INDEX ended_sessions_ended ON ended_sessions(ended);
)sql",
    // 7: every committed session change is announced to the other nodes (issue 14 item 4), with the
    // writer's application_name as its origin; delivered at COMMIT, in commit order
    R"sql(
CREATE FUNCTION mobix_notify_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_TABLE_NAME = 'ended_sessions' THEN
    PERFORM pg_notify('mobix_sessions', json_build_object('origin', current_setting('application_name'),
      'op', 'ended', 'nas', NEW.nas, 'acct_session_id', NEW.acct_session_id, 'ended', NEW.ended)::text);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('mobix_sessions', json_build_object('origin', current_setting('application_name'),
      'op', 'end', 'sid', OLD.sid)::text);
  ELSE
    PERFORM pg_notify('mobix_sessions', json_build_object('origin', current_setting('application_name'),
      'op', 'put', 'session', row_to_json(NEW))::text);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER sessions_notify AFTER INSERT OR UPDATE OR DELETE ON sessions
  FOR EACH ROW EXECUTE FUNCTION mobix_notify_sessions();
CREATE TRIGGER ended_sessions_notify AFTER INSERT OR UPDATE ON ended_sessions
  FOR EACH ROW EXECUTE FUNCTION mobix_notify_sessions();
)sql",
    // 8: one live session per (context, IPv4 address) is a database constraint (issue 14 item 3);
    // duplicates two nodes may have written before it are resolved first, the newest kept
    R"sql(
DELETE FROM sessions a USING sessions b WHERE a.context = b.context AND a.ipv4 = b.ipv4 AND a.ipv4 <> ''
  AND (a.started, a.sid) < (b.started, b.sid);
CREATE UNIQUE INDEX sessions_address ON sessions(context, ipv4) WHERE ipv4 <> '';
)sql",
    // 9: seed 004 provisioning: the valid-serial database (183), the operational user records (63,
    // key columns + a JSON document) and their billing data (24), linked by the CB ID
    R"sql(
CREATE TABLE valid_serials (serial TEXT PRIMARY KEY, password_sha256 TEXT NOT NULL, cert_serial TEXT NOT NULL,
  minted BIGINT NOT NULL, revoked BIGINT NOT NULL DEFAULT 0);
CREATE TABLE boxes (cb_id TEXT PRIMARY KEY, cb_name TEXT NOT NULL UNIQUE, serial TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL, version BIGINT NOT NULL, doc TEXT NOT NULL);
CREATE INDEX boxes_state ON boxes(state);
CREATE TABLE box_billing (cb_id TEXT PRIMARY KEY REFERENCES boxes(cb_id) ON DELETE CASCADE, doc TEXT NOT NULL);
)sql",
    // 10: singleton jobs run on one node at a time under a lease with an epoch (issue 14 item 5), on
    // the database's clock; a job's write first passes mobix_fence, which locks the lease row until
    // COMMIT (a takeover waits for it) and refuses a holder or epoch that is no longer the job's.
    // Host names are unique (the relay and the DNS find a subscriber by it).
    R"sql(
CREATE TABLE job_leases (job TEXT PRIMARY KEY, holder TEXT NOT NULL, epoch BIGINT NOT NULL,
  expires TIMESTAMPTZ NOT NULL);
CREATE FUNCTION mobix_fence(j TEXT, h TEXT, e BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM job_leases WHERE job = j AND holder = h AND epoch = e FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'job % lease epoch % was taken over; its write is refused', j, e USING ERRCODE = 'MX001';
  END IF;
END $$;
DROP INDEX subscribers_hostname;
CREATE UNIQUE INDEX subscribers_hostname ON subscribers(hostname) WHERE hostname <> '';
)sql",
    // 11: seed 003: devices by identity code with their initiating information (the subscriber is
    // the directory's, embedded or LDAP: no foreign key), and the Home Agent's mobility bindings
    // (RFC 5944 3.8.3) with the last identification accepted
    R"sql(
CREATE TABLE devices (identity_code TEXT PRIMARY KEY,
  subscriber_id BIGINT NOT NULL,
  home_address TEXT NOT NULL UNIQUE, mip_spi BIGINT NOT NULL, mip_key TEXT NOT NULL, created BIGINT NOT NULL);
CREATE INDEX devices_subscriber ON devices(subscriber_id);
CREATE TABLE call_records (principal TEXT NOT NULL, call_id TEXT NOT NULL, callee TEXT NOT NULL,
  started BIGINT NOT NULL, seconds BIGINT NOT NULL, recorded BIGINT NOT NULL, PRIMARY KEY (principal, call_id));
CREATE TABLE mobility_bindings (home_address TEXT PRIMARY KEY, care_of TEXT NOT NULL, expires BIGINT NOT NULL,
  identification BIGINT NOT NULL, registered BIGINT NOT NULL);
)sql",
    // 12: seed 002: the visited side's accounting for home networks, kept until delivered
    R"sql(
CREATE TABLE roaming_outbox (node TEXT NOT NULL, partner TEXT NOT NULL, seq BIGINT NOT NULL,
  packet TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (node, partner, seq));
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);
/// Nodes starting together migrate one at a time (a transaction-scoped lock: safe behind pgbouncer).
constexpr const char* kMigrationLock = "SELECT pg_advisory_xact_lock(7236490001)";

constexpr const char* kSubscriberColumns =
    "id, coalesce(msisdn,''), coalesce(imsi,''), coalesce(username,''), coalesce(serial,''), password, "
    "framed_ip, hostname, attrs";
constexpr const char* kSessionColumns =
    "sid, context, ipv4, ipv6_prefix, msisdn, imsi, username, nas, apn, acct_session_id, subscriber_id, "
    "started, last_seen, hostname, nas_address";

const std::vector<pg::Statement>& statements() {
  static const std::vector<pg::Statement> list = [] {
    std::string sub = std::string("SELECT ") + kSubscriberColumns + " FROM subscribers WHERE ";
    static std::vector<std::string> owned;  // the SQL texts the statements point into
    owned = {sub + "id = $1",
             sub + "msisdn = $1",
             sub + "imsi = $1",
             sub + "username = $1",
             sub + "serial = $1",
             sub + "hostname = $1",
             std::string("SELECT ") + kSubscriberColumns + " FROM subscribers ORDER BY id",
             std::string("SELECT ") + kSessionColumns + " FROM sessions"};
    return std::vector<pg::Statement>{
        {"find_id", owned[0].c_str()},
        {"find_msisdn", owned[1].c_str()},
        {"find_imsi", owned[2].c_str()},
        {"find_username", owned[3].c_str()},
        {"find_serial", owned[4].c_str()},
        {"find_hostname", owned[5].c_str()},
        {"list_subscribers", owned[6].c_str()},
        {"load_sessions", owned[7].c_str()},
        {"add_subscriber",
         "INSERT INTO subscribers (msisdn, imsi, username, serial, password, framed_ip, hostname, attrs) "
         "VALUES (nullif($1,''), nullif($2,''), nullif($3,''), nullif($4,''), $5, $6, $7, $8) RETURNING id"},
        {"update_subscriber",
         "UPDATE subscribers SET msisdn=nullif($1,''), imsi=nullif($2,''), username=nullif($3,''), "
         "serial=nullif($4,''), password=$5, framed_ip=$6, hostname=$7, attrs=$8 WHERE id=$9"},
        {"remove_subscriber", "DELETE FROM subscribers WHERE id=$1"},
        {"count_subscribers", "SELECT count(*) FROM subscribers"},
        {"load_leases",
         "SELECT pool, ip, subscriber_id, bound, expires FROM leases WHERE $1 = '' OR pool = $1"},
        {"load_dns_removals", "SELECT sid, hostname, ipv4 FROM dns_removals"},
        // Singleton jobs (issue 14 item 5), on the database's clock. A holder that still has the job
        // keeps its epoch; a takeover of an expired lease makes the next one.
        {"claim_job",
         "INSERT INTO job_leases AS j (job, holder, epoch, expires) VALUES ($1, $2, 1, clock_timestamp() + "
         "$3::bigint * interval '1 millisecond') ON CONFLICT (job) DO UPDATE SET epoch = CASE WHEN j.holder "
         "= "
         "EXCLUDED.holder THEN j.epoch ELSE j.epoch + 1 END, holder = EXCLUDED.holder, expires = "
         "EXCLUDED.expires WHERE j.holder = EXCLUDED.holder OR j.expires < clock_timestamp() RETURNING "
         "j.epoch"},
        {"release_job",
         "UPDATE job_leases SET expires = clock_timestamp() - interval '1 second' WHERE job = $1 AND holder "
         "= $2 "
         "AND epoch = $3::bigint"},
        {"load_seen_signals", "SELECT tunnel_id, expires FROM seen_signals WHERE expires >= $1"},
        // Seed 003: devices and the Home Agent's bindings.
        {"add_device",
         "INSERT INTO devices (identity_code, subscriber_id, home_address, mip_spi, mip_key, created) VALUES "
         "($1,$2,$3,$4,$5,$6)"},
        {"find_device_code",
         "SELECT identity_code, subscriber_id, home_address, mip_spi, mip_key, created FROM devices WHERE "
         "identity_code=$1"},
        {"find_device_home",
         "SELECT identity_code, subscriber_id, home_address, mip_spi, mip_key, created FROM devices WHERE "
         "home_address=$1"},
        {"list_devices",
         "SELECT identity_code, subscriber_id, home_address, mip_spi, mip_key, created FROM devices WHERE "
         "$1::bigint = 0 OR subscriber_id=$1 ORDER BY identity_code"},
        {"remove_device", "DELETE FROM devices WHERE identity_code=$1"},
        {"add_call_record",
         "INSERT INTO call_records (principal, call_id, callee, started, seconds, recorded) VALUES "
         "($1,$2,$3,$4,$5,$6) "
         "ON CONFLICT (principal, call_id) DO NOTHING"},
        {"find_call_record",
         "SELECT principal, call_id, callee, started, seconds, recorded FROM call_records WHERE principal=$1 "
         "AND "
         "call_id=$2"},
        {"list_call_records",
         "SELECT principal, call_id, callee, started, seconds, recorded FROM call_records WHERE $1 = '' OR "
         "principal=$1 ORDER BY recorded, principal, call_id"},
        {"load_mobility_bindings",
         "SELECT home_address, care_of, expires, identification, registered FROM mobility_bindings"},
        {"load_outbox",
         "SELECT node, partner, seq, packet, created FROM roaming_outbox WHERE node=$1 ORDER BY partner, "
         "seq"},
        {"find_mobility_binding",
         "SELECT home_address, care_of, expires, identification, registered FROM mobility_bindings "
         "WHERE home_address=$1"},
        {"put_valid_serial",
         "INSERT INTO valid_serials (serial, password_sha256, cert_serial, minted, revoked) VALUES "
         "($1,$2,$3,$4,$5) "
         "ON CONFLICT (serial) DO UPDATE SET password_sha256=EXCLUDED.password_sha256, "
         "cert_serial=EXCLUDED.cert_serial, minted=EXCLUDED.minted, revoked=EXCLUDED.revoked"},
        {"find_valid_serial",
         "SELECT serial, password_sha256, cert_serial, minted, revoked FROM valid_serials WHERE serial=$1"},
        {"revoke_serial", "UPDATE valid_serials SET revoked=$2 WHERE serial=$1 AND revoked=0"},
        {"add_box",
         "INSERT INTO boxes (cb_id, cb_name, serial, state, version, doc) VALUES ($1,$2,$3,$4,$5,$6)"},
        {"add_billing", "INSERT INTO box_billing (cb_id, doc) VALUES ($1,$2)"},
        {"find_box_cb_id", "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE cb_id=$1"},
        {"find_box_serial", "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE serial=$1"},
        {"find_box_cb_name",
         "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE cb_name=$1"},
        {"list_boxes", "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes ORDER BY cb_name"},
        {"list_boxes_state",
         "SELECT cb_id, cb_name, serial, state, version, doc FROM boxes WHERE state=$1 ORDER BY cb_name"},
        {"update_box",
         "UPDATE boxes SET cb_name=$2, serial=$3, state=$4, version=version+1, doc=$5 WHERE cb_id=$1 AND "
         "version=$6"},
        {"find_billing", "SELECT cb_id, doc FROM box_billing WHERE cb_id=$1"},
        {"load_ended_sessions",
         "SELECT nas, acct_session_id, ended FROM ended_sessions WHERE ended >= $1 ORDER BY ended"},
    };
  }();
  return list;
}

std::string num(std::int64_t v) {
  return std::to_string(v);
}
std::int64_t integer(const PGresult* r, int row, int col) {
  return std::stoll(PQgetvalue(r, row, col));
}
std::string text(const PGresult* r, int row, int col) {
  return std::string(PQgetvalue(r, row, col), static_cast<std::size_t>(PQgetlength(r, row, col)));
}

Subscriber read_subscriber(const PGresult* r, int row) {
  Subscriber s;
  s.id = integer(r, row, 0);
  s.msisdn = text(r, row, 1);
  s.imsi = text(r, row, 2);
  s.username = text(r, row, 3);
  s.serial = text(r, row, 4);
  s.password = text(r, row, 5);
  s.framed_ip = text(r, row, 6);
  s.hostname = text(r, row, 7);
  auto j = nlohmann::json::parse(text(r, row, 8), nullptr, false);
  if (j.is_object())
    for (auto& [k, v] : j.items())
      if (v.is_string()) s.attrs[k] = v.get<std::string>();
  return s;
}

pg::Params subscriber_params(const Subscriber& s) {
  return {s.msisdn,   s.imsi,      s.username, s.serial,
          s.password, s.framed_ip, s.hostname, nlohmann::json(s.attrs).dump()};
}

const char* find_statement(IdentityKind kind) {
  switch (kind) {
    case IdentityKind::id:
      return "find_id";
    case IdentityKind::msisdn:
      return "find_msisdn";
    case IdentityKind::imsi:
      return "find_imsi";
    case IdentityKind::username:
      return "find_username";
    case IdentityKind::serial:
      return "find_serial";
    case IdentityKind::hostname:
      return "find_hostname";
  }
  return "find_id";
}

int read_version(pg::Connection& c) {
  auto r = c.exec("SELECT coalesce(max(version), 0) FROM schema_version");
  return static_cast<int>(integer(r.get(), 0, 0));
}

/// One migration step under the lock (another node may have done it meanwhile); version 0 creates
/// the version table, also under the lock: CREATE TABLE IF NOT EXISTS is not safe against a
/// concurrent one.
int migrate_once(pg::Connection& c) {
  c.exec("BEGIN");
  try {
    c.exec(kMigrationLock);
    c.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    int v = read_version(c);
    if (v < kSchemaVersion) {
      c.exec(kMigrations[v]);
      c.exec("DELETE FROM schema_version");
      c.exec("INSERT INTO schema_version VALUES (" + std::to_string(v + 1) + ")");
      spdlog::info("store (postgresql) migrated to schema version {}", v + 1);
      ++v;
    }
    c.exec("COMMIT");
    return v;
  } catch (...) {
    c.drop();  // rolls the step back
    throw;
  }
}

/// The schema version, 0 for an empty database.
int current_version(pg::Connection& c) {
  auto r = c.exec("SELECT to_regclass('schema_version') IS NOT NULL");
  return std::string_view(PQgetvalue(r.get(), 0, 0)) == "t" ? read_version(c) : 0;
}

/// Brings the schema up to date (or refuses to run on it) on a connection of its own, before the
/// statements, which need the tables, are prepared on the others.
int ensure_schema(const pg::Options& opts, bool migrate) {
  static const std::vector<pg::Statement> none;
  pg::Connection c(opts, none);
  int v = current_version(c);
  if (v > kSchemaVersion)
    throw StoreError("store schema version " + std::to_string(v) + " is newer than this mobix (" +
                     std::to_string(kSchemaVersion) + "); upgrade mobix");
  if (v < kSchemaVersion && !migrate)
    throw StoreError("store schema version " + std::to_string(v) + " is older than this mobix (" +
                     std::to_string(kSchemaVersion) +
                     "); run `mobix store migrate` (store.migrate is manual)");
  while (v < kSchemaVersion) v = migrate_once(c);
  return v;
}

/// This process's name in pg_stat_activity and its origin in change notifications: unique per
/// process, so two nodes never take each other's changes for their own.
std::string origin() {
  unsigned char r[6];
  if (RAND_bytes(r, sizeof r) != 1) throw StoreError("store: no randomness for the node's origin");
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  std::string id;
  for (auto b : r) id += fmt::format("{:02x}", b);
  return fmt::format("mobix/{}/{}", std::string(host).substr(0, 30), id);
}

class PgStore final : public Store {
 public:
  PgStore(const StoreConfig& cfg, bool migrate_schema)
      : opts_{cfg.dsn, cfg.connect_timeout, origin(), cfg.prepared_statements},
        feed_dsn_(cfg.feed_dsn.empty() ? cfg.dsn : cfg.feed_dsn),
        version_(ensure_schema(opts_, migrate_schema)),
        writer_(opts_, pg::batch_statements()),
        readers_(opts_, statements(), cfg.pool_size > 1 ? cfg.pool_size - 1 : 1) {}

  int schema_version() override {
    auto c = readers_.acquire();
    return current_version(*c);
  }

  std::vector<Subscriber> list_subscribers() override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("list_subscribers", {});
    std::vector<Subscriber> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(read_subscriber(r.get(), i));
    return out;
  }

  std::optional<Subscriber> find_subscriber(IdentityKind kind, std::string_view value) override {
    if (kind == IdentityKind::id &&
        (value.empty() || value.find_first_not_of("0123456789") != std::string_view::npos ||
         value.size() > 18))
      return std::nullopt;
    auto c = readers_.acquire();
    auto r = c->exec_prepared(find_statement(kind), {std::string(value)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return read_subscriber(r.get(), 0);
  }

  Subscriber add_subscriber(Subscriber s) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("add_subscriber", subscriber_params(s));
    s.id = integer(r.get(), 0, 0);
    return s;
  }

  void update_subscriber(const Subscriber& s) override {
    auto c = readers_.acquire();
    auto params = subscriber_params(s);
    params.push_back(num(s.id));
    auto r = c->exec_prepared("update_subscriber", params);
    if (std::string_view(PQcmdTuples(r.get())) == "0")
      throw StoreError("no subscriber with id " + std::to_string(s.id));
  }

  bool remove_subscriber(std::int64_t id) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("remove_subscriber", {num(id)});
    return std::string_view(PQcmdTuples(r.get())) != "0";
  }

  std::size_t count_subscribers() override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("count_subscribers", {});
    return static_cast<std::size_t>(integer(r.get(), 0, 0));
  }

  std::vector<SessionRecord> load_sessions() override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_sessions", {});
    std::vector<SessionRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      SessionRecord s;
      const auto* p = r.get();
      s.sid = text(p, i, 0);
      s.context = text(p, i, 1);
      s.ipv4 = text(p, i, 2);
      s.ipv6_prefix = text(p, i, 3);
      s.msisdn = text(p, i, 4);
      s.imsi = text(p, i, 5);
      s.username = text(p, i, 6);
      s.nas = text(p, i, 7);
      s.apn = text(p, i, 8);
      s.acct_session_id = text(p, i, 9);
      s.subscriber_id = integer(p, i, 10);
      s.started = integer(p, i, 11);
      s.last_seen = integer(p, i, 12);
      s.hostname = text(p, i, 13);
      s.nas_address = text(p, i, 14);
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<Lease> load_leases(std::string_view pool) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_leases", {std::string(pool)});
    std::vector<Lease> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back(Lease{text(r.get(), i, 0), text(r.get(), i, 1), integer(r.get(), i, 2),
                          text(r.get(), i, 3) == "t", integer(r.get(), i, 4)});
    return out;
  }

  std::vector<SessionRecord> load_dns_removals() override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_dns_removals", {});
    std::vector<SessionRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      SessionRecord s;
      s.sid = text(r.get(), i, 0);
      s.hostname = text(r.get(), i, 1);
      s.ipv4 = text(r.get(), i, 2);
      out.push_back(std::move(s));
    }
    return out;
  }

  std::vector<SeenSignal> load_seen_signals(std::uint32_t now) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_seen_signals", {num(now)});
    std::vector<SeenSignal> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back(SeenSignal{static_cast<std::uint64_t>(integer(r.get(), i, 0)),
                               static_cast<std::uint32_t>(integer(r.get(), i, 1))});
    return out;
  }

  std::vector<EndedSession> load_ended_sessions(std::int64_t since) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_ended_sessions", {num(since)});
    std::vector<EndedSession> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
      out.push_back(EndedSession{text(r.get(), i, 0), text(r.get(), i, 1), integer(r.get(), i, 2), 0});
    return out;
  }

  // ---- seed 003 devices and mobility bindings (DeviceRepository) ----

  void add_device(const Device& d) override {
    auto c = readers_.acquire();
    c->exec_prepared("add_device", {d.identity_code, num(d.subscriber_id), d.home_address,
                                    num(std::int64_t{d.mip_spi}), d.mip_key_hex, num(d.created)});
  }

  std::optional<Device> find_device(DeviceKey key, std::string_view value) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared(key == DeviceKey::identity_code ? "find_device_code" : "find_device_home",
                              {std::string(value)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return device_from(r.get(), 0);
  }

  std::vector<Device> list_devices(std::int64_t subscriber_id) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("list_devices", {num(subscriber_id)});
    std::vector<Device> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(device_from(r.get(), i));
    return out;
  }

  bool remove_device(std::string_view identity_code) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("remove_device", {std::string(identity_code)});
    return std::string_view(PQcmdTuples(r.get())) != "0";
  }

  std::vector<MobilityBinding> load_mobility_bindings() override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_mobility_bindings", {});
    std::vector<MobilityBinding> out;
    const auto* p = r.get();
    for (int i = 0; i < PQntuples(p); ++i)
      out.push_back({text(p, i, 0), text(p, i, 1), integer(p, i, 2), from_ordered_int64(integer(p, i, 3)),
                     integer(p, i, 4)});
    return out;
  }

  std::vector<OutboxRecord> load_outbox(std::string_view node) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("load_outbox", {std::string(node)});
    std::vector<OutboxRecord> out;
    const auto* p = r.get();
    for (int i = 0; i < PQntuples(p); ++i)
      out.push_back({text(p, i, 0), text(p, i, 1), integer(p, i, 2), text(p, i, 3), integer(p, i, 4)});
    return out;
  }

  std::optional<MobilityBinding> find_mobility_binding(std::string_view home_address) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("find_mobility_binding", {std::string(home_address)});
    const auto* p = r.get();
    if (PQntuples(p) == 0) return std::nullopt;
    return MobilityBinding{text(p, 0, 0), text(p, 0, 1), integer(p, 0, 2),
                           from_ordered_int64(integer(p, 0, 3)), integer(p, 0, 4)};
  }

  std::pair<CallRecord, bool> add_call_record(const CallRecord& r) override {
    auto c = readers_.acquire();
    auto ins = c->exec_prepared("add_call_record", {r.principal, r.call_id, r.callee, num(r.started),
                                                    num(r.seconds), num(r.recorded)});
    bool wrote = std::string_view(PQcmdTuples(ins.get())) != "0";
    auto f = c->exec_prepared("find_call_record", {r.principal, r.call_id});
    if (PQntuples(f.get()) == 0) throw StoreError("postgresql: the call record vanished");
    return {call_from(f.get(), 0), wrote};
  }

  std::vector<CallRecord> list_call_records(const std::string& principal) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("list_call_records", {principal});
    std::vector<CallRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(call_from(r.get(), i));
    return out;
  }

  static CallRecord call_from(const PGresult* p, int i) {
    return CallRecord{text(p, i, 0),    text(p, i, 1),    text(p, i, 2),
                      integer(p, i, 3), integer(p, i, 4), integer(p, i, 5)};
  }

  static Device device_from(const PGresult* p, int i) {
    return Device{text(p, i, 0), integer(p, i, 1),
                  text(p, i, 2), static_cast<std::uint32_t>(integer(p, i, 3)),
                  text(p, i, 4), integer(p, i, 5)};
  }

  // ---- seed 004 provisioning (BoxRepository) ----

  void put_valid_serial(const ValidSerial& v) override {
    auto c = readers_.acquire();
    c->exec_prepared("put_valid_serial",
                     {v.serial, v.password_sha256, v.cert_serial, num(v.minted), num(v.revoked)});
  }

  std::optional<ValidSerial> find_valid_serial(std::string_view serial) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("find_valid_serial", {std::string(serial)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    const auto* p = r.get();
    return ValidSerial{text(p, 0, 0), text(p, 0, 1), text(p, 0, 2), integer(p, 0, 3), integer(p, 0, 4)};
  }

  bool revoke_serial(std::string_view serial, std::int64_t now) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("revoke_serial", {std::string(serial), num(now)});
    return std::string_view(PQcmdTuples(r.get())) != "0";
  }

  void add_box(const BoxRecord& b, const BoxBilling& bill) override {
    auto c = readers_.acquire();
    pg::run_transaction(
        *c, {{"add_box", {b.cb_id, b.cb_name, b.serial, to_string(b.state), num(b.version), box_to_doc(b)}},
             {"add_billing", {b.cb_id, billing_to_doc(bill)}}});
  }

  std::optional<BoxRecord> find_box(Key key, std::string_view value) override {
    const char* stmt = key == Key::cb_id    ? "find_box_cb_id"
                       : key == Key::serial ? "find_box_serial"
                                            : "find_box_cb_name";
    auto c = readers_.acquire();
    auto r = c->exec_prepared(stmt, {std::string(value)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return read_box(r.get(), 0);
  }

  std::vector<BoxRecord> list_boxes(std::optional<BoxState> state) override {
    auto c = readers_.acquire();
    auto r = state ? c->exec_prepared("list_boxes_state", {to_string(*state)})
                   : c->exec_prepared("list_boxes", {});
    std::vector<BoxRecord> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) out.push_back(read_box(r.get(), i));
    return out;
  }

  bool update_box(const BoxRecord& b) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared(
        "update_box", {b.cb_id, b.cb_name, b.serial, to_string(b.state), box_to_doc(b), num(b.version)});
    return std::string_view(PQcmdTuples(r.get())) != "0";
  }

  std::optional<BoxBilling> find_billing(std::string_view cb_id) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("find_billing", {std::string(cb_id)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return billing_from_doc(text(r.get(), 0, 0), text(r.get(), 0, 1));
  }

  static BoxRecord read_box(const PGresult* p, int row) {
    BoxRecord b;
    b.cb_id = text(p, row, 0);
    b.cb_name = text(p, row, 1);
    b.serial = text(p, row, 2);
    box_state_from_string(text(p, row, 3), b.state);
    b.version = integer(p, row, 4);
    box_from_doc(text(p, row, 5), b);
    return b;
  }

  std::unique_ptr<SessionFeed> follow_sessions(SessionFeed::Handler handler) override {
    auto opts = opts_;
    opts.dsn = feed_dsn_;  // LISTEN needs a session: not through a transaction-mode pooler
    return std::make_unique<pg::SessionFeedThread>(opts, opts_.application_name, std::move(handler));
  }

  std::optional<std::int64_t> claim_job(const std::string& job, const std::string& holder,
                                        std::int64_t ttl_ms) override {
    auto c = readers_.acquire();
    auto r = c->exec_prepared("claim_job", {job, holder, num(ttl_ms)});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    return integer(r.get(), 0, 0);
  }

  std::string job_holder() const override { return opts_.application_name; }

  void release_job(const JobLease& l) override {
    auto c = readers_.acquire();
    c->exec_prepared("release_job", {l.job, l.holder, num(l.epoch)});
  }

  Refused apply(const std::vector<Change>& batch, const JobLease* fence) override {
    pg::Claims claims;
    auto queries = pg::batch_queries(batch, static_cast<std::int64_t>(std::time(nullptr)), &claims);
    if (queries.empty()) return {};
    if (fence) queries.insert(queries.begin(), {"fence", {fence->job, fence->holder, num(fence->epoch)}});
    {
      std::lock_guard lock(write_mu_);
      pg::run_transaction(writer_, queries);
    }
    return claims.refused();
  }

 private:
  pg::Options opts_;
  std::string feed_dsn_;  ///< never logged
  int version_;           ///< the schema version at start
  std::mutex write_mu_;
  pg::Connection writer_;  ///< the group-commit writer's own connection
  pg::Pool readers_;
};

}  // namespace

std::unique_ptr<Store> Store::open_postgresql(const StoreConfig& cfg, bool migrate) {
  return std::make_unique<PgStore>(cfg, migrate);
}

std::unique_ptr<Store> Store::open(const StoreConfig& cfg, bool migrate) {
  if (cfg.backend == StoreBackend::postgresql) return open_postgresql(cfg, migrate);
  return open_sqlite(cfg.path);
}

int Store::current_schema_version() {
  return kSchemaVersion;
}

}  // namespace mobix
