#include <gtest/gtest.h>

#include <sqlite3.h>

#include "core/metrics.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"
#include "test_util.hpp"

using namespace mobix;

TEST(Store, MigratesAndReportsVersion) {
  test::TempDir d;
  auto s = Store::open_sqlite(d.file("a.db"));
  EXPECT_EQ(s->schema_version(), 6);
  s.reset();
  EXPECT_EQ(Store::open_sqlite(d.file("a.db"))->schema_version(), 6) << "reopen must not re-run migrations";
}

TEST(Store, RefusesANewerSchema) {
  test::TempDir d;
  Store::open_sqlite(d.file("a.db"));
  sqlite3* db = nullptr;
  sqlite3_open(d.file("a.db").c_str(), &db);
  sqlite3_exec(db, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  EXPECT_THROW(Store::open_sqlite(d.file("a.db")), StoreError);
}

TEST(Store, SubscriberCrudAndConflicts) {
  test::TempDir d;
  auto s = Store::open_sqlite(d.file("a.db"));
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
  other.username = "bob";  // no msisdn: NULLs must not collide
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
  EXPECT_TRUE(s->remove_subscriber(found->id));
  EXPECT_FALSE(s->find_subscriber(IdentityKind::id, std::to_string(found->id)));
  EXPECT_EQ(s->count_subscribers(), 2u);
}

TEST(Store, SessionBatchesSurviveReopen) {
  test::TempDir d;
  {
    auto s = Store::open_sqlite(d.file("a.db"));
    StoreWriter w(*s);
    SessionRecord r;
    r.sid = "s1";
    r.context = "apn:internet";
    r.ipv4 = "10.0.0.1";
    r.msisdn = "1001";
    r.started = 5;
    SessionRecord r2 = r;
    r2.sid = "s2";
    r2.ipv4 = "10.0.0.2";
    bool ok = false;
    w.submit({Change{Change::Kind::put_session, r, {}}, Change{Change::Kind::put_session, r2, {}},
              Change{Change::Kind::put_lease, {}, Lease{"p", "10.0.0.1", 1, true, 0}}},
             [&](bool o) { ok = o; });
    w.submit({Change{Change::Kind::end_session, r2, {}}}, {});
    w.flush();
    EXPECT_TRUE(ok);
  }
  auto s = Store::open_sqlite(d.file("a.db"));
  auto sessions = s->load_sessions();
  ASSERT_EQ(sessions.size(), 1u);
  EXPECT_EQ(sessions[0].ipv4, "10.0.0.1");
  EXPECT_EQ(sessions[0].started, 5);
  auto leases = s->load_leases();
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_TRUE(leases[0].bound);
}

namespace {
// A change log whose disk is "full": every commit fails.
class FailingRepository final : public ChangeLog {
 public:
  void apply(const std::vector<Change>&) override { throw StoreError("disk full"); }
};
}  // namespace

TEST(StoreWriter, FailedCommitIsReportedNotAcknowledged) {
  auto& failures = metrics().counter("mobix_store_commit_failures_total", "");
  auto before = failures.value();
  FailingRepository repo;
  StoreWriter w(repo);
  int calls = 0;
  bool ok = true;
  w.submit({Change{Change::Kind::end_session, {}, {}}}, [&](bool o) {
    ok = o;
    ++calls;
  });
  w.flush();
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(ok) << "the caller must not answer the NAS";
  EXPECT_EQ(failures.value(), before + 1);
}

TEST(Store, EndedSessionsAreDurableAndPruned) {
  test::TempDir d;
  {
    auto s = Store::open_sqlite(d.file("a.db"));
    Change c{Change::Kind::put_ended_session, {}, {}};
    c.ended = EndedSession{"ggsn1", "A", 100, 0};
    s->apply({c});
    c.ended = EndedSession{"ggsn1", "B", 200, 150};  // forgets what ended before 150
    s->apply({c});
  }
  auto s = Store::open_sqlite(d.file("a.db"));
  auto ended = s->load_ended_sessions(0);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].acct_session_id, "B");
  EXPECT_EQ(ended[0].ended, 200);
  EXPECT_TRUE(s->load_ended_sessions(201).empty());
}
