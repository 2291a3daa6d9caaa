// The roaming decisions that live outside the RADIUS transport (seed 002 [0029]).
#include <gtest/gtest.h>

#include "roaming/home_side.hpp"
#include "roaming/visited_side.hpp"

using mobix::radius::AcctStatus;
using mobix::roaming::HomeSide;

namespace {
HomeSide::AccountingRequest request(std::string_view user, AcctStatus st, bool own_realm = true,
                                    bool known = false) {
  HomeSide::AccountingRequest r;
  r.username = user;
  r.status = st;
  r.own_realm = own_realm;
  r.session_known = known;
  return r;
}
}  // namespace

TEST(HomeSide, PartnersAccountOnlyForTerminalsWeAuthenticatedForThem) {
  HomeSide home;
  EXPECT_FALSE(home.may_account("visited", request("alice@home.test", AcctStatus::start)));
  home.authenticated("visited", "Alice@Home.Test");
  EXPECT_TRUE(home.may_account("visited", request("alice@home.test", AcctStatus::start)));
  EXPECT_TRUE(home.may_account("visited", request("alice@home.test", AcctStatus::interim_update)));
  // Another partner cannot ride on it.
  EXPECT_FALSE(home.may_account("other", request("alice@home.test", AcctStatus::start)));
  // A session we hold may be continued; a Stop changes only a session that exists.
  EXPECT_TRUE(home.may_account("other", request("bob@home.test", AcctStatus::interim_update, true, true)));
  EXPECT_TRUE(home.may_account("other", request("bob@home.test", AcctStatus::stop)));
}

TEST(HomeSide, NeverForeignRealmsOrNasRestarts) {
  HomeSide home;
  home.authenticated("visited", "carol@elsewhere.test");
  EXPECT_FALSE(home.may_account("visited", request("carol@elsewhere.test", AcctStatus::start, false)));
  home.authenticated("visited", "alice@home.test");
  EXPECT_FALSE(home.may_account("visited", request("alice@home.test", AcctStatus::accounting_on)));
  EXPECT_FALSE(home.may_account("visited", request("alice@home.test", AcctStatus::accounting_off)));
}

TEST(HomeSide, MemoryIsBoundedOldestForgottenFirst) {
  HomeSide home(1000);
  for (int i = 0; i < 100000; ++i) home.authenticated("visited", "u" + std::to_string(i) + "@home.test");
  EXPECT_FALSE(home.was_authenticated("visited", "u0@home.test"));
  EXPECT_FALSE(home.was_authenticated("visited", "u98999@home.test"));
  EXPECT_TRUE(home.was_authenticated("visited", "u99000@home.test"));
  EXPECT_TRUE(home.was_authenticated("visited", "u99999@home.test"));
}

TEST(VisitedSide, HostNameTravelsInClass) {
  auto cls = mobix::roaming::host_class("alice.home.test");
  EXPECT_EQ(mobix::roaming::hostname_from_class(cls), "alice.home.test");
  EXPECT_FALSE(mobix::roaming::hostname_from_class("something-else"));
}
