// What every store backend promises (store/store.hpp), run against each one: SQLite always, and
// PostgreSQL when MOBIX_TEST_PG_DSN names a database this test may wipe (tests/integration/
// store_postgresql.sh starts a real PostgreSQL and runs this suite against it; it fails there if
// no test ran).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "core/config.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"
#include "test_util.hpp"

using namespace mobix;

namespace {

std::string pg_dsn() {
  const char* d = std::getenv("MOBIX_TEST_PG_DSN");
  return d ? d : "";
}

/// Runs one statement on the test database with libpq itself (not through the store under test).
void pg_exec(const std::string& sql) {
  PGconn* c = PQconnectdb(pg_dsn().c_str());
  ASSERT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  auto st = PQresultStatus(r);
  EXPECT_TRUE(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  bool pg() const { return GetParam() == "postgresql"; }
  void SetUp() override {
    if (pg()) pg_exec("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  }
  std::unique_ptr<Store> open(bool migrate = true) {
    StoreConfig c;
    c.path = dir.file("a.db");
    if (pg()) {
      c.backend = StoreBackend::postgresql;
      c.dsn = pg_dsn();
      c.pool_size = 3;
    }
    return Store::open(c, migrate);
  }
  /// Sets the recorded schema version behind the store's back.
  void set_version(int v) {
    auto sql = "UPDATE schema_version SET version = " + std::to_string(v);
    if (pg()) return pg_exec(sql);
    sqlite3* db = nullptr;
    sqlite3_open(dir.file("a.db").c_str(), &db);
    sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  test::TempDir dir;
};

std::vector<std::string> backends() {
  std::vector<std::string> b{"sqlite"};
  if (!pg_dsn().empty()) b.push_back("postgresql");
  return b;
}

SessionRecord session(const std::string& sid, const std::string& ip) {
  SessionRecord r;
  r.sid = sid;
  r.context = "apn:internet";
  r.ipv4 = ip;
  r.msisdn = "1001";
  r.nas = "ggsn1";
  r.nas_address = "127.0.0.1";
  r.hostname = "alice.example";
  r.started = 5;
  r.last_seen = 7;
  return r;
}

}  // namespace

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(backends()),
                         [](const auto& info) { return info.param; });

TEST_P(StoreContract, MigratesAndReportsVersion) {
  auto s = open();
  EXPECT_EQ(s->schema_version(), Store::current_schema_version());
  EXPECT_EQ(Store::current_schema_version(), 12);
  s.reset();
  EXPECT_EQ(open()->schema_version(), 12) << "reopen must not re-run migrations";
}

TEST_P(StoreContract, RefusesANewerSchema) {
  open();
  set_version(99);
  try {
    open();
    FAIL() << "opened a store with a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("newer than this mobix"), std::string::npos) << e.what();
  }
}

TEST_P(StoreContract, SubscriberCrudAndConflicts) {
  auto s = open();
  Subscriber a;
  a.msisdn = "31610000001";
  a.username = "alice";
  a.attrs["mail.server"] = "imap.example.net";
  auto stored = s->add_subscriber(a);
  EXPECT_GT(stored.id, 0);
  Subscriber dup;
  dup.msisdn = "31610000001";
  EXPECT_THROW(s->add_subscriber(dup), StoreConflict);
  Subscriber other;
  other.username = "bob";  // no msisdn: absent identities must not collide
  s->add_subscriber(other);
  Subscriber other2;
  other2.username = "carol";
  s->add_subscriber(other2);
  auto found = s->find_subscriber(IdentityKind::username, "alice");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->attrs.at("mail.server"), "imap.example.net");
  found->hostname = "alice.example";
  s->update_subscriber(*found);
  EXPECT_EQ(s->find_subscriber(IdentityKind::msisdn, "31610000001")->hostname, "alice.example");
  EXPECT_EQ(s->find_subscriber(IdentityKind::hostname, "alice.example")->username, "alice");
  // Host names are unique (schema 10): the relay and the DNS find a subscriber by it.
  auto bob = *s->find_subscriber(IdentityKind::username, "bob");
  bob.hostname = "alice.example";
  EXPECT_THROW(s->update_subscriber(bob), StoreConflict);
  Subscriber dup_host;
  dup_host.username = "dave";
  dup_host.hostname = "alice.example";
  EXPECT_THROW(s->add_subscriber(dup_host), StoreConflict);
  EXPECT_FALSE(s->find_subscriber(IdentityKind::id, "not-a-number"));
  EXPECT_TRUE(s->remove_subscriber(found->id));
  EXPECT_FALSE(s->remove_subscriber(found->id));
  EXPECT_FALSE(s->find_subscriber(IdentityKind::id, std::to_string(found->id)));
  EXPECT_THROW(s->update_subscriber(*found), StoreError);
  EXPECT_EQ(s->count_subscribers(), 2u);
  EXPECT_EQ(s->list_subscribers().size(), 2u);
}

TEST_P(StoreContract, SessionBatchesSurviveReopen) {
  {
    auto s = open();
    StoreWriter w(*s);
    auto r = session("s1", "10.0.0.1");
    auto r2 = session("s2", "10.0.0.2");
    bool ok = false;
    w.submit({Change{Change::Kind::put_session, r, {}}, Change{Change::Kind::put_session, r2, {}},
              Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.1", 1, true, 0}},
              Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.2", 2, false, 99}}},
             [&](StoreWriter::Outcome o, Refused) { ok = o == StoreWriter::Outcome::committed; });
    r.last_seen = 9;  // an interim rewrites the record
    w.submit({Change{Change::Kind::end_session, r2, {}}, Change{Change::Kind::put_session, r, {}},
              Change{Change::Kind::free_lease, {}, Lease{"p", "10.0.0.2", 0, false, 0}}},
             {});
    w.flush();
    EXPECT_TRUE(ok);
  }
  auto s = open();
  auto sessions = s->load_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].ipv4, "10.0.0.1");
  EXPECT_EQ(sessions[0].started, 5);
  EXPECT_EQ(sessions[0].last_seen, 9);
  EXPECT_EQ(sessions[0].hostname, "alice.example");
  EXPECT_EQ(sessions[0].nas_address, "127.0.0.1");
  auto leases = s->load_leases("");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_TRUE(leases[0].bound);
  EXPECT_EQ(leases[0].subscriber_id, 1);
}

TEST_P(StoreContract, LargeBatchesCommitWhole) {
  // Larger than one PostgreSQL pipeline chunk: still one transaction.
  auto s = open();
  std::vector<Change> batch;
  for (int i = 0; i < 1000; ++i)
    batch.push_back(Change{
        Change::Kind::put_session, session("s" + std::to_string(i), "10.1.0." + std::to_string(i)), {}});
  s->apply(batch, nullptr);
  EXPECT_EQ(s->load_sessions().size(), 1000u);
  // The same batch again (a retransmission after a lost answer) is harmless.
  s->apply(batch, nullptr);
  EXPECT_EQ(s->load_sessions().size(), 1000u);
}

TEST_P(StoreContract, EndedSessionsAreDurableAndPruned) {
  {
    auto s = open();
    Change c{Change::Kind::put_ended_session, {}, {}};
    c.ended = EndedSession{"ggsn1", "A", 100, 0};
    s->apply({c}, nullptr);
    c.ended = EndedSession{"ggsn1", "B", 200, 150};  // forgets what ended before 150
    s->apply({c}, nullptr);
  }
  auto s = open();
  auto ended = s->load_ended_sessions(0);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].acct_session_id, "B");
  EXPECT_EQ(ended[0].ended, 200);
  EXPECT_TRUE(s->load_ended_sessions(201).empty());
}

TEST_P(StoreContract, JournalsAndReplayMemory) {
  auto s = open();
  auto r = session("s1", "10.0.0.1");
  Change seen{Change::Kind::put_seen_signal, {}, {}};
  seen.signal = SeenSignal{0xfedcba9876543210ull, 4000000000u};  // the top bit set: must round-trip
  s->apply({Change{Change::Kind::put_dns_removal, r, {}}, seen}, nullptr);
  auto removals = s->load_dns_removals();
  ASSERT_EQ(removals.size(), 1u);
  EXPECT_EQ(removals[0].hostname, "alice.example");
  EXPECT_EQ(removals[0].ipv4, "10.0.0.1");
  s->apply({Change{Change::Kind::free_dns_removal, r, {}}}, nullptr);
  EXPECT_TRUE(s->load_dns_removals().empty());
  auto signals = s->load_seen_signals(3999999999u);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].tunnel_id, 0xfedcba9876543210ull);
  EXPECT_EQ(signals[0].expires, 4000000000u);
  EXPECT_TRUE(s->load_seen_signals(4000000001u).empty());
}

TEST_P(StoreContract, ABatchAppliesItsChangesInOrder) {
  // A session started and taken over within one batch, a lease freed and offered again, odd text.
  auto s = open();
  auto a = session("a", "10.0.0.1");
  a.context = "apn:we\"ird,{apn}\\x";
  auto b = a;
  b.sid = "b";
  b.msisdn = "2002";
  s->apply({Change{Change::Kind::put_session, a, {}},
            Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.1", 1, false, 9}},
            Change{Change::Kind::end_session, a, {}},
            Change{Change::Kind::free_lease, {}, Lease{"p", "10.0.0.1", 0, false, 0}},
            Change{Change::Kind::put_session, b, {}},
            Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.1", 2, true, 0}}},
           nullptr);
  auto sessions = s->load_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].sid, "b");
  EXPECT_EQ(sessions[0].context, "apn:we\"ird,{apn}\\x");
  auto leases = s->load_leases("");
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_EQ(leases[0].subscriber_id, 2);
  EXPECT_TRUE(leases[0].bound);
  // Freed last: gone.
  s->apply({Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.9", 3, true, 0}},
            Change{Change::Kind::free_lease, {}, Lease{"p", "10.0.0.9", 0, false, 0}}},
           nullptr);
  EXPECT_EQ(s->load_leases("").size(), 1u);
}

// Pool offers claim an address only when nobody else holds it (issue 14 item 3): the store is the
// arbiter between nodes that each allocate from their own memory.
TEST_P(StoreContract, AnOfferClaimsOnlyAFreeAddress) {
  auto s = open();
  auto offer = [](const char* ip, std::int64_t sub, std::int64_t expires) {
    return Change{Change::Kind::put_lease, {}, Lease{"p", ip, sub, false, expires}};
  };
  const std::int64_t later = std::time(nullptr) + 3600;
  EXPECT_TRUE(s->apply({offer("10.0.0.5", 1, later)}, nullptr).empty());
  auto refused = s->apply({offer("10.0.0.5", 2, later), offer("10.0.0.6", 2, later)}, nullptr).offers;
  ASSERT_EQ(refused.size(), 1u) << "another subscriber's live offer";
  EXPECT_EQ(refused[0].ip, "10.0.0.5");
  EXPECT_EQ(refused[0].subscriber_id, 2);
  EXPECT_TRUE(s->apply({offer("10.0.0.5", 1, later + 1)}, nullptr).empty()) << "renewing one's own offer";
  // Bound by the network: no offer takes it, expired or not.
  s->apply({Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.7", 3, true, 0}}}, nullptr);
  EXPECT_EQ(s->apply({offer("10.0.0.7", 4, later)}, nullptr).offers.size(), 1u);
  // An offer that expired is free to claim; its late timeout then leaves the new offer alone.
  EXPECT_TRUE(s->apply({offer("10.0.0.8", 5, 1)}, nullptr).empty());
  EXPECT_TRUE(s->apply({offer("10.0.0.8", 6, later)}, nullptr).empty());
  s->apply({Change{Change::Kind::free_lease, {}, Lease{"p", "10.0.0.8", 5, false, 1}}}, nullptr);
  // A session's end frees the address whoever held it.
  s->apply({Change{Change::Kind::free_lease, {}, Lease{"p", "10.0.0.7", 0, false, 0}}}, nullptr);
  std::map<std::string, std::int64_t> held;
  for (const auto& l : s->load_leases("")) held[l.ip] = l.subscriber_id;
  EXPECT_EQ(held, (std::map<std::string, std::int64_t>{{"10.0.0.5", 1}, {"10.0.0.6", 2}, {"10.0.0.8", 6}}));
}

// Singleton jobs (issue 14 item 5): one holder at a time, a takeover only after the lease expires
// (or is released), and a former holder's fenced write refused whole.
TEST_P(StoreContract, JobLeasesAndFencedWrites) {
  auto s = open();
  auto a = s->claim_job("expiry", "node-a", 60000);
  ASSERT_TRUE(a);
  EXPECT_FALSE(s->claim_job("expiry", "node-b", 60000)) << "node a's lease is live";
  EXPECT_EQ(s->claim_job("expiry", "node-a", 60000), a) << "renewing keeps the epoch";
  EXPECT_TRUE(s->claim_job("dns", "node-b", 60000)) << "another job is another lease";
  JobLease old{"expiry", "node-a", *a};
  auto write = [](const char* sid) {
    SessionRecord r;
    r.sid = sid;
    return std::vector<Change>{Change{Change::Kind::put_session, r, {}}};
  };
  s->apply(write("by-a-1"), &old);
  // Node a stalls; its lease runs out (1 ms) and node b takes the job over.
  ASSERT_TRUE(s->claim_job("expiry", "node-a", 1));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto b = s->claim_job("expiry", "node-b", 60000);
  ASSERT_TRUE(b);
  EXPECT_EQ(*b, *a + 1);
  EXPECT_THROW(s->apply(write("by-a-2"), &old), StoreFenced);
  s->apply(write("by-b"), &*std::make_unique<JobLease>(JobLease{"expiry", "node-b", *b}));
  std::set<std::string> sids;
  for (const auto& r : s->load_sessions()) sids.insert(r.sid);
  EXPECT_EQ(sids, (std::set<std::string>{"by-a-1", "by-b"}));
  // A clean stop lets the job go at once.
  s->release_job(JobLease{"expiry", "node-b", *b});
  EXPECT_EQ(s->claim_job("expiry", "node-c", 60000), *b + 1);
  EXPECT_FALSE(s->job_holder().empty());
}

// Two nodes claiming a free job at the same moment: exactly one gets it.
TEST_P(StoreContract, TwoNodesClaimingAJobAtOnceGetOneLease) {
  auto a = open();
  auto b = open();
  for (int round = 0; round < 20; ++round) {
    auto job = "race-" + std::to_string(round);
    std::optional<std::int64_t> got_a, got_b;
    std::thread ta([&] { got_a = a->claim_job(job, "node-a", 60000); });
    std::thread tb([&] { got_b = b->claim_job(job, "node-b", 60000); });
    ta.join();
    tb.join();
    EXPECT_NE(got_a.has_value(), got_b.has_value()) << job;
  }
}

// Seed 004 provisioning: the valid-serial database, user records with their billing data apart,
// and updates that lose to a concurrent writer instead of overwriting it.
TEST_P(StoreContract, BoxRecordsAndValidSerials) {
  {
    auto s = open();
    s->put_valid_serial({"SN-1", std::string(64, 'a'), "0A1B", 100, 0});
    auto v = s->find_valid_serial("SN-1");
    ASSERT_TRUE(v);
    EXPECT_EQ(v->password_sha256, std::string(64, 'a'));
    EXPECT_EQ(v->cert_serial, "0A1B");
    EXPECT_FALSE(s->find_valid_serial("SN-2"));
    EXPECT_TRUE(s->revoke_serial("SN-1", 200));
    EXPECT_FALSE(s->revoke_serial("SN-1", 300));  // already revoked: the first time stays
    EXPECT_FALSE(s->revoke_serial("SN-9", 300));

    BoxRecord r;
    r.cb_id = "cb-0001";
    r.cb_name = "jo12345678";
    r.friendly_name = "Uncle Jo";
    r.serial = "SN-1";
    r.line_id = "+4420000001";
    r.address_book = {{"ann00000001", "Ann"}, {"bob00000002", "Bob"}};
    r.created = r.updated = 100;
    s->add_box(r, {"cb-0001", "Jo Smith", "1 High Street", "IBAN GB00TEST"});
    // CB Name and serial are unique; a failed add leaves nothing behind (no billing row either).
    auto dup = r;
    dup.cb_id = "cb-0002";
    EXPECT_THROW(s->add_box(dup, {"cb-0002", "X", "Y", "Z"}), StoreConflict);
    EXPECT_FALSE(s->find_billing("cb-0002"));
    dup.cb_name = "other";
    EXPECT_THROW(s->add_box(dup, {"cb-0002", "X", "Y", "Z"}), StoreConflict);

    auto got = s->find_box(BoxRepository::Key::serial, "SN-1");
    ASSERT_TRUE(got);
    EXPECT_EQ(got->cb_id, "cb-0001");
    ASSERT_EQ(got->address_book.size(), 2u);
    EXPECT_EQ(got->address_book[1].friendly_name, "Bob");
    EXPECT_EQ(got->state, BoxState::registered);

    got->state = BoxState::configuring;
    got->state_reason = "Phase II";
    EXPECT_TRUE(s->update_box(*got));
    // A writer holding the old version loses and must re-read.
    EXPECT_FALSE(s->update_box(*got));
    EXPECT_EQ(s->list_boxes(BoxState::configuring).size(), 1u);
    EXPECT_TRUE(s->list_boxes(BoxState::registered).empty());
  }
  auto s = open();  // durable across a reopen
  auto got = s->find_box(BoxRepository::Key::cb_name, "jo12345678");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->version, 1);
  EXPECT_EQ(got->state_reason, "Phase II");
  auto bill = s->find_billing("cb-0001");
  ASSERT_TRUE(bill);
  EXPECT_EQ(bill->street_address, "1 High Street");
  EXPECT_EQ(s->find_valid_serial("SN-1")->revoked, 200);
}

// Seed 003: devices by identity code, unique home addresses, and the Home Agent's bindings, which
// never go back to an older identification and survive a reopen (RFC 5944 3.8.3, 5.7).
TEST_P(StoreContract, DevicesAndMobilityBindings) {
  {
    auto s = open();
    Subscriber alice;
    alice.msisdn = "4670001";
    auto a = s->add_subscriber(alice);
    Device d{"IPUI-0001", a.id, "10.64.0.7", 256, "00112233445566778899aabbccddeeff", 5};
    s->add_device(d);
    EXPECT_THROW(s->add_device(Device{"IPUI-0001", a.id, "10.64.0.8", 256, "00", 5}), StoreConflict);
    EXPECT_THROW(s->add_device(Device{"IPUI-0002", a.id, "10.64.0.7", 256, "00", 5}), StoreConflict);
    s->add_device(Device{"IPUI-0002", a.id, "10.64.0.8", 300, "ff", 6});
    auto found = s->find_device(DeviceKey::home_address, "10.64.0.7");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->identity_code, "IPUI-0001");
    EXPECT_EQ(found->mip_spi, 256u);
    EXPECT_EQ(found->mip_key_hex, "00112233445566778899aabbccddeeff");
    EXPECT_EQ(s->list_devices(a.id).size(), 2u);
    EXPECT_TRUE(s->list_devices(a.id + 1).empty());
    EXPECT_TRUE(s->remove_device("IPUI-0002"));
    EXPECT_FALSE(s->remove_device("IPUI-0002"));

    auto put = [&](std::string care_of, std::uint64_t id) {
      Change c{Change::Kind::put_mobility_binding, {}, {}};
      c.binding = MobilityBinding{"10.64.0.7", std::move(care_of), 1000, id, 10};
      return c;
    };
    const std::uint64_t t = 0xEC5C8A0000000001ull;  // NTP seconds with the top bit set (after 1968)
    EXPECT_TRUE(s->apply({put("198.51.100.9", t), put("198.51.100.10", t + (1ull << 32))}, nullptr).empty());
    // Older (another Home Agent node accepted a later one): not written, and the writer learns the
    // stored binding, so a replay accepted by one node's memory is refused by the store.
    auto refused = s->apply({put("203.0.113.1", t)}, nullptr);
    ASSERT_EQ(refused.bindings.size(), 1u);
    EXPECT_EQ(refused.bindings[0].home_address, "10.64.0.7");
    EXPECT_EQ(refused.bindings[0].care_of, "198.51.100.10");
    EXPECT_EQ(refused.bindings[0].identification, t + (1ull << 32));
    EXPECT_TRUE(refused.offers.empty());
    // The same identification again is the same registration rewritten, not a refusal.
    EXPECT_TRUE(s->apply({put("198.51.100.10", t + (1ull << 32))}, nullptr).empty());
  }
  auto s = open();
  auto b = s->load_mobility_bindings();
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].care_of, "198.51.100.10");
  EXPECT_EQ(b[0].identification, 0xEC5C8A0000000001ull + (1ull << 32));
  auto one = s->find_mobility_binding("10.64.0.7");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->care_of, "198.51.100.10");
  EXPECT_EQ(one->identification, b[0].identification);
  EXPECT_FALSE(s->find_mobility_binding("10.64.0.8"));
  EXPECT_TRUE(s->find_device(DeviceKey::identity_code, "IPUI-0001"));
}

// Seed 002: the visited side's outbox keeps each node's accounting, in order, until delivered.
TEST_P(StoreContract, RoamingOutboxKeepsEachNodesQueueInOrder) {
  auto put = [](std::string node, std::string partner, std::int64_t seq) {
    Change c{Change::Kind::put_outbox, {}, {}};
    c.outbox = OutboxRecord{std::move(node), std::move(partner), seq, "04000014", 100 + seq};
    return c;
  };
  {
    auto s = open();
    s->apply({put("v1", "home", 3), put("v1", "home", 1), put("v1", "other", 2), put("v2", "home", 1)},
             nullptr);
    auto del = put("v1", "home", 1);
    del.kind = Change::Kind::delete_outbox;
    s->apply({del}, nullptr);
  }
  auto s = open();
  auto v1 = s->load_outbox("v1");
  ASSERT_EQ(v1.size(), 2u);
  EXPECT_EQ(v1[0].partner, "home");
  EXPECT_EQ(v1[0].seq, 3);
  EXPECT_EQ(v1[0].packet_hex, "04000014");
  EXPECT_EQ(v1[0].created, 103);
  EXPECT_EQ(v1[1].partner, "other");
  ASSERT_EQ(s->load_outbox("v2").size(), 1u);
  EXPECT_TRUE(s->load_outbox("v3").empty());
}

// Seed 003 billing: a charge is bound to its principal; a retried post is one charge.
TEST_P(StoreContract, CallRecordsAreOnePerPrincipalAndCall) {
  {
    auto s = open();
    CallRecord r{"IPUI-1@R", "call-1", "IPUI-2", 100, 42, 101};
    auto [first, wrote] = s->add_call_record(r);
    EXPECT_TRUE(wrote);
    EXPECT_EQ(first.seconds, 42);
    auto again = r;
    again.seconds = 99;  // a conflicting retry does not change the charge
    auto [second, wrote2] = s->add_call_record(again);
    EXPECT_FALSE(wrote2);
    EXPECT_EQ(second.seconds, 42);
    EXPECT_TRUE(s->add_call_record(CallRecord{"IPUI-2@R", "call-1", "IPUI-1", 100, 42, 102}).second)
        << "the same call id from another principal is its own charge";
  }
  auto s = open();
  EXPECT_EQ(s->list_call_records().size(), 2u);
  ASSERT_EQ(s->list_call_records("IPUI-1@R").size(), 1u);
  EXPECT_EQ(s->list_call_records("IPUI-1@R")[0].callee, "IPUI-2");
}
