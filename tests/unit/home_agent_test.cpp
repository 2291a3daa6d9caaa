// The Home Agent's decisions (RFC 5944 3.8), without sockets or a store.
#include <gtest/gtest.h>

#include "mip/home_agent_core.hpp"
#include "node/config_sections.hpp"

namespace mobix::mip {
namespace {

constexpr std::int64_t kNow = 1'796'000'000;
const SecurityAssociation kSa{300, std::vector<std::uint8_t>(16, 0x42)};

struct HomeAgentCoreTest : ::testing::Test {
  HomeAgentPolicy policy{*ipv4_from_string("192.0.2.1"), 30, 7, 2};
  HomeAgentCore ha{policy, [](std::uint32_t home) -> std::optional<SecurityAssociation> {
                     if (ipv4_to_string(home).rfind("10.64.0.", 0) == 0) return kSa;
                     return std::nullopt;
                   }};
  std::uint32_t seconds = 0;
  Request request(const std::string& home, std::uint16_t lifetime, std::int64_t at = kNow) {
    return Request{0,
                   lifetime,
                   *ipv4_from_string(home),
                   policy.address,
                   *ipv4_from_string("198.51.100.9"),
                   timestamp_identification(at, ++seconds)};
  }
  Verdict send(const Request& r, std::int64_t now = kNow) { return ha.decide(encode_request(r, kSa), now); }
};

TEST_F(HomeAgentCoreTest, ARegistrationIsGrantedAtMostTheMaximumLifetimeAndWrittenBeforeTheReply) {
  auto v = send(request("10.64.0.7", 600));
  EXPECT_EQ(v.reply.code, Code::accepted);
  EXPECT_EQ(v.reply.lifetime, 30);
  ASSERT_TRUE(v.write);
  EXPECT_EQ(v.write->care_of, "198.51.100.9");
  EXPECT_EQ(v.write->expires, kNow + 30);
  EXPECT_EQ(ha.care_of("10.64.0.7", kNow + 29), "198.51.100.9");
  EXPECT_FALSE(ha.care_of("10.64.0.7", kNow + 30));
}

TEST_F(HomeAgentCoreTest, TheSameRequestAgainOrAnOlderOneIsAReplay) {
  auto r = request("10.64.0.7", 60);
  EXPECT_EQ(send(r).reason, "registered");
  auto again = send(r);
  EXPECT_EQ(again.reply.code, Code::identification_mismatch);
  EXPECT_EQ(again.reason, "replayed");
  EXPECT_FALSE(again.write);
  auto older = r;
  older.identification -= 1;
  EXPECT_EQ(send(older).reason, "replayed");
}

TEST_F(HomeAgentCoreTest, ADeregistrationEndsTheBindingButKeepsTheReplayMemory) {
  auto reg = request("10.64.0.7", 60);
  send(reg);
  auto dereg = request("10.64.0.7", 0);
  auto v = send(dereg);
  EXPECT_EQ(v.reason, "deregistered");
  EXPECT_EQ(v.write->care_of, "");
  EXPECT_FALSE(ha.care_of("10.64.0.7", kNow));
  EXPECT_EQ(send(reg).reason, "replayed") << "a captured registration must stay refused";
}

TEST_F(HomeAgentCoreTest, BeyondTheMaximumNewBindingsAreRefusedWithInsufficientResources) {
  send(request("10.64.0.1", 60));
  send(request("10.64.0.2", 60));
  EXPECT_EQ(send(request("10.64.0.3", 60)).reply.code, Code::insufficient_resources);
  EXPECT_EQ(send(request("10.64.0.1", 60)).reason, "renewed") << "renewing an existing one still works";
  EXPECT_EQ(ha.sweep(kNow + 61), 2u);
  EXPECT_EQ(send(request("10.64.0.3", 60, kNow + 61), kNow + 61).reason, "registered");
}

TEST_F(HomeAgentCoreTest, AFailedWriteIsTakenBackSoTheRetransmissionIsAccepted) {
  auto r = request("10.64.0.7", 60);
  auto before = ha.current("10.64.0.7");
  auto v = send(r);
  ha.undo(*v.write, before);
  EXPECT_EQ(send(r).reason, "registered");
  EXPECT_EQ(ha.live(), 1u);
}

// Two Home Agent nodes on one store: this one accepted a request in memory, the store refused it
// because the other node had stored a later registration (a replay sent to this node, say).
TEST_F(HomeAgentCoreTest, ARegistrationTheStoreRefusedBecomesA133AndTheLaterBindingIsKept) {
  auto replayed = request("10.64.0.7", 60);
  auto v = send(replayed, kNow + 2);
  ASSERT_EQ(v.reason, "registered");
  ha.undo(*v.write, std::nullopt);
  MobilityBinding later{"10.64.0.7", "203.0.113.5", kNow + 60, replayed.identification + (1ull << 32), kNow};
  auto refused = ha.superseded(v, later, kNow + 2);
  EXPECT_EQ(refused.reason, "superseded");
  EXPECT_EQ(refused.reply.code, Code::identification_mismatch);
  EXPECT_EQ(refused.reply.lifetime, 0);
  EXPECT_FALSE(refused.write);
  EXPECT_TRUE(refused.sa) << "the 133 is authenticated, so the node can resynchronise";
  EXPECT_EQ(identification_unix_seconds(refused.reply.identification), kNow + 2);
  EXPECT_EQ(static_cast<std::uint32_t>(refused.reply.identification),
            static_cast<std::uint32_t>(replayed.identification));
  EXPECT_EQ(ha.care_of("10.64.0.7", kNow + 3), "203.0.113.5") << "the other node's binding is adopted";
  EXPECT_EQ(send(replayed, kNow + 3).reason, "replayed") << "refused from memory from now on";
  // When the store could not say which registration won, nothing is adopted.
  auto other = send(request("10.64.0.8", 60));
  ha.undo(*other.write, std::nullopt);
  EXPECT_EQ(ha.superseded(other, std::nullopt, kNow).reason, "superseded");
  EXPECT_FALSE(ha.care_of("10.64.0.8", kNow + 1));
}

TEST_F(HomeAgentCoreTest, RefusalsCarryTheRfcCodes) {
  auto r = request("10.64.0.7", 60);
  auto wire = encode_request(r, SecurityAssociation{300, std::vector<std::uint8_t>(16, 0x43)});
  EXPECT_EQ(ha.decide(wire, kNow).reply.code, Code::mn_failed_authentication);
  auto spi = encode_request(r, SecurityAssociation{301, kSa.key});
  EXPECT_EQ(ha.decide(spi, kNow).reason, "bad_authenticator");
  auto stranger = ha.decide(encode_request(request("10.99.0.1", 60), kSa), kNow);
  EXPECT_EQ(stranger.reason, "unknown_home_address");
  EXPECT_FALSE(stranger.sa) << "no key to authenticate the refusal with";
  auto skewed = send(request("10.64.0.7", 60, kNow - 8));
  EXPECT_EQ(skewed.reason, "clock_skew");
  EXPECT_EQ(identification_unix_seconds(skewed.reply.identification), kNow);
  auto gre = request("10.64.0.7", 60);
  gre.flags = flag::gre;
  EXPECT_EQ(send(gre).reply.code, Code::encapsulation_unavailable);
  auto other_ha = request("10.64.0.7", 60);
  other_ha.home_agent = *ipv4_from_string("192.0.2.2");
  EXPECT_EQ(send(other_ha).reply.code, Code::unknown_home_agent);
  auto truncated = encode_request(request("10.64.0.7", 60), kSa);
  truncated.push_back(99);  // an extension header cut short
  EXPECT_EQ(ha.decide(truncated, kNow).reply.code, Code::poorly_formed_request);
  EXPECT_EQ(ha.decide(std::vector<std::uint8_t>(10, 1), kNow).action, Verdict::Action::drop);
}

TEST(HomeAgentConfig, AWildcardListenerNeedsTheHomeAgentAddress) {
  const std::string base = "store: {path: x.db}\nadmin: {listen: 127.0.0.1:0, no_token: true}\n";
  EXPECT_THROW(parse_config(base + "home_agent: {listen: 0.0.0.0:434}\n", "t.yaml"), ConfigError);
  auto c = parse_config(base + "home_agent: {listen: 0.0.0.0:434, address: 192.0.2.1, max_lifetime: 600}\n",
                        "t.yaml");
  ASSERT_TRUE(c.home_agent);
  EXPECT_EQ(c.home_agent->address, "192.0.2.1");
  EXPECT_EQ(c.home_agent->max_lifetime, 600u);
  EXPECT_EQ(c.home_agent->replay_window, 7u);
  EXPECT_THROW(parse_config(base + "home_agent: {listen: 127.0.0.1:434, max_lifetime: 65535}\n", "t.yaml"),
               ConfigError);
}

}  // namespace
}  // namespace mobix::mip
