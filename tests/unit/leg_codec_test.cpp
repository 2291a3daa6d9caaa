#include "codec/leg/leg.hpp"

#include <gtest/gtest.h>

namespace mobix::leg {

TEST(LegCodec, HelloRoundTripsWithLowerCaseHex) {
  Hello h{0x00f1e2d3c4b5a697ull,
          {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}};
  auto line = format_hello(h);
  EXPECT_EQ(line, "MOBIX-TUNNEL 00f1e2d3c4b5a697 00112233445566778899aabbccddeeff\r\n");
  auto back = parse_hello(std::string_view(line).substr(0, line.size() - 2));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tunnel_id, h.tunnel_id);
  EXPECT_EQ(back->key, h.key);
}

TEST(LegCodec, LinkHelloRoundTripsAndIsToldApart) {
  Hello h{0x0102030405060708ull, {}, true};
  h.key[15] = 0xab;
  auto line = format_hello(h);
  EXPECT_EQ(line, "MOBIX-LINK 0102030405060708 000000000000000000000000000000ab\r\n");
  auto back = parse_hello(std::string_view(line).substr(0, line.size() - 2));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->link);
  EXPECT_EQ(back->tunnel_id, h.tunnel_id);
  EXPECT_EQ(back->key, h.key);
  EXPECT_FALSE(parse_hello("MOBIX-LINK 0102030405060708 000000000000000000000000000000a")) << "short key";
  EXPECT_FALSE(parse_hello("MOBIX-LINKS 0102030405060708 000000000000000000000000000000ab")) << "prefix";
  EXPECT_FALSE(parse_hello("MOBIX-TUNNEL 0102030405060708 000000000000000000000000000000ab")->link);
}

TEST(LegCodec, HelloRefusesWhatTheGatewayNeverSends) {
  const std::string good = "MOBIX-TUNNEL 00f1e2d3c4b5a697 00112233445566778899aabbccddeeff";
  EXPECT_FALSE(parse_hello(good.substr(0, good.size() - 1))) << "short key";
  EXPECT_FALSE(parse_hello(good + "0")) << "long key";
  EXPECT_FALSE(parse_hello("MOBIX-TUNNEL 00F1E2D3C4B5A697 00112233445566778899aabbccddeeff")) << "upper case";
  EXPECT_FALSE(parse_hello("MOBIX-TUNNEL 00f1e2d3c4b5a69g 00112233445566778899aabbccddeeff")) << "not hex";
  EXPECT_FALSE(parse_hello("MOBIX-TUNNEL 00f1e2d3c4b5a697_00112233445566778899aabbccddeeff")) << "separator";
  EXPECT_FALSE(parse_hello("MOBIX-TUNNEL -0f1e2d3c4b5a697 00112233445566778899aabbccddeeff")) << "sign";
}

TEST(LegCodec, CountsAreSmallDecimalsOnly) {
  EXPECT_EQ(parse_go("MOBIX-GO 0"), 0u);
  EXPECT_EQ(parse_go("MOBIX-GO 16"), 16u);
  EXPECT_EQ(parse_up("MOBIX-UP 7"), 7u);
  EXPECT_FALSE(parse_go("MOBIX-GO 17")) << "over kMaxLegsPerGo";
  EXPECT_FALSE(parse_go("MOBIX-GO -1")) << "atoi would make this 4294967295";
  EXPECT_FALSE(parse_go("MOBIX-GO 01")) << "leading zero";
  EXPECT_FALSE(parse_go("MOBIX-GO ")) << "empty";
  EXPECT_FALSE(parse_go("MOBIX-GO 3 ")) << "trailing space";
  EXPECT_FALSE(parse_up("MOBIX-GO 3")) << "another verb";
  EXPECT_EQ(format_go(99), "MOBIX-GO 16\r\n") << "capped";
}

TEST(LegCodec, DownCarriesAReasonToken) {
  EXPECT_EQ(parse_down("MOBIX-DOWN not_attached"), "not_attached");
  EXPECT_FALSE(parse_down("MOBIX-DOWN "));
  EXPECT_FALSE(parse_down("MOBIX-DOWN Not attached"));
  EXPECT_EQ(format_down("no\r\ninjection"), "MOBIX-DOWN unreachable\r\n");
}

}  // namespace mobix::leg
