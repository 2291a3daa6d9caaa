#include <gtest/gtest.h>

#include "access/session_table.hpp"

using namespace mobix;

namespace {
SessionTable make_table() {
  return SessionTable([n = 0]() mutable { return "s" + std::to_string(++n); });
}
AcctInput input(std::string ip, std::string msisdn, std::string acct_id, std::string nas = "ggsn1",
                std::string apn = "internet") {
  AcctInput in;
  in.ipv4 = std::move(ip);
  in.msisdn = std::move(msisdn);
  in.acct_session_id = std::move(acct_id);
  in.nas = std::move(nas);
  in.apn = std::move(apn);
  return in;
}
int count(const Outcome& o, Change::Kind k) {
  int n = 0;
  for (const auto& c : o.changes) n += c.kind == k;
  return n;
}
}  // namespace

TEST(SessionTable, StartThenLookupThenStop) {
  auto t = make_table();
  auto out = t.start(input("10.0.0.1", "316100", "A"), 100);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, SessionEvent::Kind::attach);
  EXPECT_EQ(count(out, Change::Kind::put_session), 1);
  auto s = t.find_by_ip("10.0.0.1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->msisdn, "316100");
  EXPECT_EQ(s->started, 100);
  out = t.stop(input("10.0.0.1", "316100", "A"), 200);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].reason, "stop");
  EXPECT_FALSE(t.find_by_ip("10.0.0.1"));
}

TEST(SessionTable, StartForHeldIpTakesItOver) {
  auto t = make_table();
  t.start(input("10.0.0.1", "316100", "A"), 100);
  auto out = t.start(input("10.0.0.1", "316200", "B"), 150);
  ASSERT_EQ(out.events.size(), 2u);
  EXPECT_EQ(out.events[0].kind, SessionEvent::Kind::detach);
  EXPECT_EQ(out.events[0].reason, "takeover");
  EXPECT_EQ(out.events[0].session.msisdn, "316100");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "316200");
  EXPECT_EQ(t.size(), 1u);
}

TEST(SessionTable, StaleStopChangesNothing) {
  auto t = make_table();
  t.start(input("10.0.0.1", "316100", "A"), 100);
  t.start(input("10.0.0.1", "316200", "B"), 150);
  auto out = t.stop(input("10.0.0.1", "316100", "A"), 160);
  EXPECT_TRUE(out.events.empty());
  EXPECT_TRUE(out.changes.empty());
  EXPECT_FALSE(out.note.empty());
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "316200");
}

TEST(SessionTable, RepeatedStartRefreshesWithoutEvents) {
  auto t = make_table();
  t.start(input("10.0.0.1", "316100", "A"), 100);
  auto out = t.start(input("10.0.0.1", "316100", "A"), 130);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->last_seen, 130);
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->started, 100);
}

TEST(SessionTable, InterimUpdatesLastSeenOrStandsInForStart) {
  auto t = make_table();
  auto out = t.interim(input("10.0.0.2", "316300", "C"), 100);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].kind, SessionEvent::Kind::attach);
  out = t.interim(input("10.0.0.2", "316300", "C"), 400);
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(t.find_by_ip("10.0.0.2")->last_seen, 400);
}

TEST(SessionTable, AccountingOnEndsEverySessionOfThatNas) {
  auto t = make_table();
  t.start(input("10.0.0.1", "1001", "A", "ggsn1"), 100);
  t.start(input("10.0.0.2", "1002", "B", "ggsn1"), 100);
  t.start(input("10.0.0.3", "1003", "C", "ggsn2"), 100);
  auto out = t.end_all_of_nas("ggsn1", "", "accounting-on", 200);
  EXPECT_EQ(out.events.size(), 2u);
  EXPECT_EQ(count(out, Change::Kind::end_session), 2);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_TRUE(t.find_by_ip("10.0.0.3"));
}

TEST(SessionTable, SilentSessionsExpire) {
  auto t = make_table();
  t.start(input("10.0.0.1", "1001", "A"), 100);
  t.start(input("10.0.0.2", "1002", "B"), 500);
  auto out = t.expire(300);
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].reason, "expired");
  EXPECT_EQ(out.events[0].session.ipv4, "10.0.0.1");
  EXPECT_TRUE(t.find_by_ip("10.0.0.2"));
}

TEST(SessionTable, SameIpInTwoApnsAreTwoSessions) {
  auto t = make_table();
  t.start(input("10.0.0.1", "1001", "A", "ggsn1", "internet"), 100);
  t.start(input("10.0.0.1", "1002", "B", "ggsn1", "corp"), 110);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find_by_ip("10.0.0.1", "apn:internet")->msisdn, "1001");
  EXPECT_EQ(t.find_by_ip("10.0.0.1", "apn:corp")->msisdn, "1002");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1002");  // newest wins without a context
}

TEST(SessionTable, Ipv6AddressFoundInsideDelegatedPrefix) {
  auto t = make_table();
  auto in = input("", "1001", "A");
  in.ipv6_prefix = "2001:db8:1::/64";
  t.start(in, 100);
  EXPECT_EQ(t.find_by_ip("2001:db8:1::1234")->msisdn, "1001");
  EXPECT_FALSE(t.find_by_ip("2001:db8:2::1"));
  EXPECT_FALSE(t.find_by_ip("not-an-ip"));
}

TEST(SessionTable, LoadRestoresIndexes) {
  auto t = make_table();
  t.start(input("10.0.0.9", "1009", "Z"), 100);
  auto t2 = make_table();
  t2.load(t.list());
  EXPECT_EQ(t2.find_by_ip("10.0.0.9")->msisdn, "1009");
}

TEST(SessionTable, PublishesToSubscribers) {
  auto t = make_table();
  int attaches = 0;
  t.subscribe([&](const SessionEvent& e) { attaches += e.kind == SessionEvent::Kind::attach; });
  auto out = t.start(input("10.0.0.1", "1", "A"), 1);
  t.publish(out.events);
  EXPECT_EQ(attaches, 1);
}

TEST(SessionTableMsisdn, FindsTheNewestAttachedSessionAndForgetsEndedOnes) {
  SessionTable t([n = 0]() mutable { return "m" + std::to_string(++n); });
  AcctInput a;
  a.nas = "n";
  a.apn = "internet";
  a.msisdn = "31610000100";
  a.ipv4 = "10.0.0.1";
  a.acct_session_id = "1";
  t.start(a, 100);
  AcctInput b = a;
  b.apn = "other";
  b.ipv4 = "10.0.0.2";
  b.acct_session_id = "2";
  t.start(b, 200);
  ASSERT_TRUE(t.find_by_msisdn("31610000100"));
  EXPECT_EQ(t.find_by_msisdn("31610000100")->ipv4, "10.0.0.2") << "the newest session wins";
  t.stop(b, 300);
  EXPECT_EQ(t.find_by_msisdn("31610000100")->ipv4, "10.0.0.1");
  t.stop(a, 300);
  EXPECT_FALSE(t.find_by_msisdn("31610000100"));
  EXPECT_FALSE(t.find_by_msisdn("unknown"));
}

TEST(SessionTable, ManySessionsOfOneMsisdnStayIndexed) {
  // Issue 12 item 9: 65,000 Starts for one MSISDN used to make every erase scan them all. The index
  // keeps each MSISDN's sessions ordered by start: the newest with an IPv4 address is found, and
  // takeovers and stops keep it exact.
  auto t = make_table();
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    auto ip = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
              std::to_string(i % 256);
    t.start(input(ip, "31600", "acct" + std::to_string(i)), 1000 + i);
  }
  EXPECT_EQ(t.size(), static_cast<std::size_t>(n));
  auto newest = t.find_by_msisdn("31600");
  ASSERT_TRUE(newest);
  EXPECT_EQ(newest->started, 1000 + n - 1);
  // The newest session's address is taken over by another subscriber: the MSISDN's next newest wins.
  t.start(input(newest->ipv4, "31699", "other"), 999999);
  auto next = t.find_by_msisdn("31600");
  ASSERT_TRUE(next);
  EXPECT_EQ(next->started, 1000 + n - 2);
  // Every session stopped: nothing is left in the index.
  for (int i = 0; i < n - 1; ++i) {
    auto ip = "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
              std::to_string(i % 256);
    t.stop(input(ip, "31600", "acct" + std::to_string(i)), 2000000);
  }
  EXPECT_FALSE(t.find_by_msisdn("31600"));
  EXPECT_TRUE(t.find_by_msisdn("31699"));
}

// Issue 12 item 2: replay-safe accounting.
namespace {
AcctInput from(AcctInput in, std::string client, std::int64_t event_time = 0) {
  in.nas_address = std::move(client);
  if (event_time) {
    in.event_time = event_time;
    in.event_time_from_nas = true;
  }
  return in;
}
}  // namespace

TEST(SessionTable, AStoppedSessionCannotStartAgain) {
  auto t = make_table();
  t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 100);
  t.stop(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 200);
  t.start(from(input("10.0.0.1", "1002", "B"), "192.0.2.1"), 300);  // the address goes to someone else
  // The first session's captured Start, replayed from another address in the client range.
  auto out = t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.99"), 400);
  EXPECT_EQ(out.refused, "ended_session");
  EXPECT_TRUE(out.events.empty());
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1002") << "the new holder keeps the address";
  // As an Interim (RFC 5080 2.1 would treat it as a lost Start): refused as well.
  out = t.interim(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 410);
  EXPECT_EQ(out.refused, "ended_session");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1002");
}

TEST(SessionTable, ATakenOverSessionCannotStartAgain) {
  auto t = make_table();
  t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 100);
  t.start(from(input("10.0.0.1", "1002", "B"), "192.0.2.1"), 200);
  auto out = t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 300);
  EXPECT_EQ(out.refused, "ended_session");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1002");
}

TEST(SessionTable, AnExpiredSessionMayComeBackWithAnInterim) {
  auto t = make_table();
  t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 100);
  t.expire(1000);
  auto out = t.interim(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 1100);
  EXPECT_TRUE(out.refused.empty()) << out.note;
  EXPECT_TRUE(t.find_by_ip("10.0.0.1"));
}

TEST(SessionTable, AStartOlderThanTheHolderDoesNotTakeOver) {
  auto t = make_table();
  t.start(from(input("10.0.0.1", "1002", "B"), "192.0.2.1", 5000), 5000);
  auto out = t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1", 4000), 5010);
  EXPECT_EQ(out.refused, "older_than_holder");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1002");
  out = t.start(from(input("10.0.0.1", "1003", "C"), "192.0.2.1", 6000), 6000);
  EXPECT_TRUE(out.refused.empty()) << "a newer Start takes over";
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "1003");
}

TEST(SessionTable, OnlyItsRadiusClientStopsOrEndsASession) {
  auto t = make_table();
  t.start(from(input("10.0.0.1", "1001", "A", "ggsn1"), "192.0.2.1"), 100);
  auto out = t.stop(from(input("10.0.0.1", "1001", "A", "ggsn1"), "192.0.2.66"), 200);
  EXPECT_EQ(out.refused, "other_client");
  EXPECT_TRUE(t.find_by_ip("10.0.0.1"));
  out = t.end_all_of_nas("ggsn1", "192.0.2.66", "accounting-off", 200);
  EXPECT_EQ(out.refused, "other_client");
  EXPECT_TRUE(t.find_by_ip("10.0.0.1"));
  out = t.end_all_of_nas("ggsn1", "192.0.2.1", "accounting-off", 200);
  EXPECT_EQ(out.events.size(), 1u);
  EXPECT_FALSE(t.find_by_ip("10.0.0.1"));
}

TEST(SessionTable, EndsAreRememberedFromTheStore) {
  auto t = make_table();
  t.remember_ends(86400, 1000, {EndedSession{"ggsn1", "A", 100, 0}});
  auto out = t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 200);
  EXPECT_EQ(out.refused, "ended_session");
  // After the memory's window the pair is forgotten.
  out = t.start(from(input("10.0.0.1", "1001", "A"), "192.0.2.1"), 100 + 86400 + 1);
  EXPECT_TRUE(out.refused.empty());
}

TEST(EndedSessions, BoundedByCapacity) {
  EndedSessions e(86400, 100);
  for (int i = 0; i < 10'000; ++i) e.remember("ggsn1", std::to_string(i), 1000);
  EXPECT_EQ(e.size(), 100u);
  EXPECT_TRUE(e.contains("ggsn1", "9999", 1000));
  EXPECT_FALSE(e.contains("ggsn1", "0", 1000)) << "the oldest go first";
}

namespace {
SessionRecord remote_record(std::string sid, std::string ip, std::string msisdn) {
  SessionRecord r;
  r.sid = std::move(sid);
  r.context = "apn:internet";
  r.ipv4 = std::move(ip);
  r.msisdn = std::move(msisdn);
  r.nas = "ggsn1";
  r.acct_session_id = "R-" + r.sid;
  r.started = 50;
  return r;
}
}  // namespace

TEST(SessionTable, OtherNodesChangesUpdateTheCache) {
  auto t = make_table();
  t.start(input("10.0.0.1", "316100", "A"), 100);  // this node's own session
  auto ev = t.apply_remote(remote_record("r1", "10.0.0.2", "316200"));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, SessionEvent::Kind::attach);
  EXPECT_EQ(t.find_by_ip("10.0.0.2")->msisdn, "316200");
  EXPECT_EQ(t.find_by_msisdn("316200")->sid, "r1");
  // An interim from the other node changes nothing visible.
  auto again = remote_record("r1", "10.0.0.2", "316200");
  again.last_seen = 70;
  EXPECT_TRUE(t.apply_remote(again).empty());
  // The other node took this node's address over.
  ev = t.apply_remote(remote_record("r2", "10.0.0.1", "316300"));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].reason, "takeover");
  EXPECT_EQ(ev[0].session.msisdn, "316100");
  EXPECT_EQ(t.find_by_ip("10.0.0.1")->msisdn, "316300");
  ev = t.apply_remote_end("r1");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_FALSE(t.find_by_ip("10.0.0.2"));
  EXPECT_TRUE(t.apply_remote_end("r1").empty()) << "an end announced twice is harmless";
  EXPECT_EQ(t.size(), 1u);
}

TEST(SessionTable, ResyncDropsOnlyWhatOtherNodesEnded) {
  auto t = make_table();
  t.start(input("10.0.0.1", "316100", "A"), 100);  // own, not yet in the store's answer
  t.apply_remote(remote_record("r1", "10.0.0.2", "316200"));
  t.apply_remote(remote_record("r2", "10.0.0.3", "316300"));
  // The store now holds r2 and a session r3 whose notification was lost; r1 ended meanwhile.
  auto ev = t.resync({remote_record("r2", "10.0.0.3", "316300"), remote_record("r3", "10.0.0.4", "316400")});
  EXPECT_FALSE(t.find_by_ip("10.0.0.2")) << "r1 ended while the feed was down";
  EXPECT_TRUE(t.find_by_ip("10.0.0.4")) << "r3 started while the feed was down";
  EXPECT_TRUE(t.find_by_ip("10.0.0.1")) << "this node's own session stays (its commit may be in flight)";
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(ev.size(), 2u);  // r3 attached, r1 detached
}

TEST(SessionTable, AnEndOnAnotherNodeIsRememberedHere) {
  auto t = make_table();
  t.remember_ends(3600, 100, {});
  t.remember_remote_end(EndedSession{"ggsn1", "A", 100, 0});
  auto out = t.start(input("10.0.0.1", "316100", "A"), 110);
  EXPECT_EQ(out.refused, "ended_session") << "a replay of a Start another node saw stopped";
  EXPECT_FALSE(t.find_by_ip("10.0.0.1"));
}
