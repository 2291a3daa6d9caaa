// Zone semantics (RFC 1034 4.3.2, RFC 2308, RFC 8020), names, the responder's wire behaviour
// (built with ldns, checked here on the raw octets) and RadSec framing (RFC 6614 2.3).
#include <gtest/gtest.h>

#include "codec/dns/responder.hpp"
#include "codec/dns/zone.hpp"
#include "codec/radius/radsec.hpp"

using namespace mobix::dns;

namespace {

void make_zones(ZoneSet& z) {
  z.add_zone({"Home.Test.", "", "", 30, {{"www.home.test", kA, 30, "127.0.0.80"}}});
  z.add_zone({"4.127.in-addr.arpa", "", "", 30, {}});
}

std::vector<std::uint8_t> query(const std::string& name, std::uint16_t type, std::uint16_t id = 0xbeef) {
  std::vector<std::uint8_t> q{
      static_cast<std::uint8_t>(id >> 8), static_cast<std::uint8_t>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  std::size_t start = 0;
  while (start <= name.size()) {
    auto dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<std::uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<std::uint8_t>(type >> 8), static_cast<std::uint8_t>(type), 0, 1});
  return q;
}

int ancount(const std::vector<std::uint8_t>& r) {
  return (r[6] << 8) | r[7];
}
int nscount(const std::vector<std::uint8_t>& r) {
  return (r[8] << 8) | r[9];
}

}  // namespace

TEST(DnsNames, NormalizeAndReverse) {
  EXPECT_EQ(normalize_name("Alice.Home.Test."), "alice.home.test");
  EXPECT_FALSE(normalize_name("a..b"));
  EXPECT_FALSE(normalize_name(std::string(64, 'a') + ".test"));
  EXPECT_FALSE(normalize_name("bad name.test"));
  EXPECT_EQ(reverse_name("127.3.0.9"), "9.0.3.127.in-addr.arpa");
  EXPECT_EQ(reverse_name("2001:db8::1")->substr(0, 8), "1.0.0.0.");
  EXPECT_TRUE(reverse_name("2001:db8::1")->ends_with(".8.b.d.0.1.0.0.2.ip6.arpa"));
  EXPECT_FALSE(reverse_name("not-an-ip"));
  EXPECT_TRUE(in_zone("a.home.test", "home.test"));
  EXPECT_FALSE(in_zone("ahome.test", "home.test"));
}

TEST(DnsZone, AnswersNegativesAndSerials) {
  ZoneSet z(100);
  make_zones(z);
  EXPECT_EQ(z.lookup("www.home.test", kA).kind, Answer::Kind::answer);
  auto nx = z.lookup("alice.home.test", kA);
  EXPECT_EQ(nx.kind, Answer::Kind::nxdomain);
  ASSERT_TRUE(nx.soa);
  EXPECT_EQ(nx.soa->type, kSOA);
  EXPECT_EQ(z.lookup("www.home.test", kAAAA).kind, Answer::Kind::nodata);
  EXPECT_EQ(z.lookup("example.com", kA).kind, Answer::Kind::refused);
  auto s0 = z.serial("home.test");
  EXPECT_TRUE(z.set("alice.home.test", kA, "127.4.0.10"));
  EXPECT_FALSE(z.set("alice.home.test", kA, "127.4.0.10")) << "idempotent";
  EXPECT_EQ(z.serial("home.test"), s0 + 1);
  EXPECT_TRUE(z.set("alice.home.test", kA, "127.4.0.11")) << "a newer session replaces the value";
  EXPECT_FALSE(z.remove("alice.home.test", kA, "127.4.0.10"))
      << "an old session's removal leaves the new value";
  EXPECT_EQ(z.lookup("alice.home.test", kA).answers.at(0).rdata, "127.4.0.11");
  EXPECT_TRUE(z.remove("alice.home.test", kA, "127.4.0.11"));
  EXPECT_EQ(z.lookup("alice.home.test", kA).kind, Answer::Kind::nxdomain);
  // RFC 8020: a name with only descendants exists (NODATA), and stops existing with them.
  z.set("10.0.4.127.in-addr.arpa", kPTR, "alice.home.test.");
  EXPECT_EQ(z.lookup("0.4.127.in-addr.arpa", kPTR).kind, Answer::Kind::nodata);
  z.clear_dynamic();
  EXPECT_EQ(z.lookup("0.4.127.in-addr.arpa", kPTR).kind, Answer::Kind::nxdomain);
  EXPECT_EQ(z.dynamic_count(), 0u);
  EXPECT_THROW(z.add_zone({"home.test", "", "", 30, {}}), std::invalid_argument);
  EXPECT_THROW(z.add_zone({"x.test", "", "", 30, {{"www.elsewhere", kA, 30, "1.2.3.4"}}}),
               std::invalid_argument);
}

TEST(DnsResponder, WireAnswers) {
  ZoneSet z(100);
  make_zones(z);
  Responder r(z);
  int rcode = -1;
  auto a = r.respond(query("WWW.home.test", kA), false, rcode);
  ASSERT_GE(a.size(), 12u);
  EXPECT_EQ(rcode, kNoError);
  EXPECT_EQ(a[0], 0xbe);
  EXPECT_EQ(a[1], 0xef);
  EXPECT_TRUE(a[2] & 0x80) << "QR";
  EXPECT_TRUE(a[2] & 0x04) << "AA";
  EXPECT_EQ(ancount(a), 1);
  EXPECT_EQ(a[13], 'W') << "question spelled as asked";
  // Cached answer, new ID, different case.
  auto b = r.respond(query("www.HOME.test", kA, 0x0102), false, rcode);
  EXPECT_EQ(b[0], 0x01);
  EXPECT_EQ(b[1], 0x02);
  EXPECT_EQ(b[13], 'w');
  EXPECT_EQ(ancount(b), 1);
  auto nx = r.respond(query("nobody.home.test", kA), false, rcode);
  EXPECT_EQ(rcode, kNxDomain);
  EXPECT_EQ(nx[3] & 0x0f, kNxDomain);
  EXPECT_EQ(nscount(nx), 1) << "SOA in the authority section";
  // A change invalidates the cache.
  z.set("alice.home.test", kA, "127.4.0.10");
  auto al = r.respond(query("alice.home.test", kA), false, rcode);
  EXPECT_EQ(rcode, kNoError);
  EXPECT_EQ(ancount(al), 1);
  r.respond(query("example.com", kA), false, rcode);
  EXPECT_EQ(rcode, kRefused);
}

namespace {
/// `q` with an EDNS OPT record (RFC 6891 6.1.2) appended: UDP size, version, DO, options.
std::vector<std::uint8_t> with_opt(std::vector<std::uint8_t> q, std::uint16_t udp, std::uint8_t version,
                                   bool dnssec_ok, std::vector<std::uint8_t> options = {}) {
  q[11] = 1;  // ARCOUNT
  std::uint16_t flags = dnssec_ok ? 0x8000 : 0;
  q.insert(q.end(),
           {0, 0, 41, static_cast<std::uint8_t>(udp >> 8), static_cast<std::uint8_t>(udp), 0, version,
            static_cast<std::uint8_t>(flags >> 8), static_cast<std::uint8_t>(flags),
            static_cast<std::uint8_t>(options.size() >> 8), static_cast<std::uint8_t>(options.size())});
  q.insert(q.end(), options.begin(), options.end());
  return q;
}
}  // namespace

// Issue 17 item 4: EDNS queries (what resolvers send) take the fast path; what it answers is what the
// full path answers for the same query.
TEST(DnsResponder, EdnsQueriesAreAnsweredFromTheCacheAsTheFullPathWould) {
  const std::vector<std::uint8_t> cookie{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // COOKIE, client part only
  for (auto q : {with_opt(query("www.home.test", kA), 4096, 0, false),
                 with_opt(query("www.home.test", kA), 1232, 0, true),
                 with_opt(query("nobody.home.test", kA), 512, 0, true, cookie),
                 with_opt(query("www.home.test", kA), 0, 0, false)}) {
    ZoneSet z(100);
    make_zones(z);
    Responder full(z), cached(z);
    int rc1 = -1, rc2 = -1, rc3 = -1;
    auto first = full.respond(q, false, rc1);  // the full path (an empty cache)
    cached.respond(q, false, rc2);
    auto again = cached.respond(q, false, rc3);  // the fast path
    EXPECT_EQ(first, again);
    EXPECT_EQ(rc1, rc3);
    EXPECT_EQ((first[10] << 8) | first[11], 1) << "the answer carries OPT";
  }
}

TEST(DnsResponder, AnUnknownEdnsVersionIsRefusedAndNeverCached) {
  ZoneSet z(100);
  make_zones(z);
  Responder r(z);
  int rcode = -1;
  r.respond(with_opt(query("www.home.test", kA), 1232, 1, false), false, rcode);
  EXPECT_EQ(rcode, kFormErr);
  auto ok = r.respond(with_opt(query("www.home.test", kA), 1232, 0, false), false, rcode);
  EXPECT_EQ(rcode, kNoError) << "a version-0 query after a version-1 one must not get its FORMERR";
  EXPECT_EQ(ancount(ok), 1);
  // Trailing octets after OPT, or OPT not last: not the fast path's to answer.
  auto trailing = with_opt(query("www.home.test", kA), 1232, 0, false);
  trailing.push_back(0);
  r.respond(trailing, false, rcode);
  EXPECT_NE(rcode, -1);
}

TEST(DnsResponder, MalformedInput) {
  ZoneSet z(100);
  make_zones(z);
  Responder r(z);
  int rcode = 0;
  EXPECT_TRUE(r.respond(std::vector<std::uint8_t>{1, 2, 3}, false, rcode).empty());
  EXPECT_EQ(rcode, -1);
  auto q = query("www.home.test", kA);
  q[2] |= 0x80;  // a response
  EXPECT_TRUE(r.respond(q, false, rcode).empty());
  auto cut = query("www.home.test", kA);
  cut.resize(20);
  auto fe = r.respond(cut, false, rcode);
  EXPECT_EQ(rcode, kFormErr);
  ASSERT_GE(fe.size(), 12u);
  EXPECT_EQ(fe[0], 0xbe);
  auto upd = query("home.test", kSOA);
  upd[2] = 5 << 3;  // opcode UPDATE
  r.respond(upd, false, rcode);
  EXPECT_EQ(rcode, kNotImp);
}

TEST(RadsecFraming, SplitsTheStream) {
  using mobix::radius::Frame;
  using mobix::radius::next_frame;
  std::vector<std::uint8_t> two(40, 0);
  two[3] = 20;
  two[23] = 20;
  EXPECT_EQ(next_frame(std::span(two.data(), 3)).status, Frame::Status::need_more);
  EXPECT_EQ(next_frame(std::span(two.data(), 19)).status, Frame::Status::need_more);
  auto f = next_frame(two);
  EXPECT_EQ(f.status, Frame::Status::ready);
  EXPECT_EQ(f.length, 20u);
  EXPECT_EQ(next_frame(std::span(two).subspan(20)).status, Frame::Status::ready);
  std::vector<std::uint8_t> bad{1, 1, 0, 19};
  EXPECT_EQ(next_frame(bad).status, Frame::Status::invalid);
  std::vector<std::uint8_t> huge{1, 1, 0x10, 0x01};
  EXPECT_EQ(next_frame(huge).status, Frame::Status::invalid);
}
