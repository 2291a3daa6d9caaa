#include <gtest/gtest.h>

#include "codec/proxyproto/proxy_v2.hpp"

using mobix::proxyproto::encode_v2;

TEST(ProxyV2, Ipv4HeaderMatchesTheSpecLayout) {
  auto h = encode_v2("203.0.113.7", 51000, "192.0.2.1", 443);
  ASSERT_TRUE(h);
  std::vector<std::uint8_t> want = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                    0x55, 0x49, 0x54, 0x0A,                       // sig
                                    0x21, 0x11, 0x00, 0x0C,                       // v2 PROXY, TCP4, 12
                                    203,  0,    113,  7,    192,  0,    2,    1,  // addresses
                                    0xC7, 0x38, 0x01, 0xBB};                      // ports
  EXPECT_EQ(*h, want);
}

TEST(ProxyV2, Ipv6AndMixedFamilies) {
  auto h = encode_v2("2001:db8::1", 1, "2001:db8::2", 2);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->size(), 16u + 36u);
  EXPECT_EQ((*h)[13], 0x21);
  EXPECT_FALSE(encode_v2("203.0.113.7", 1, "2001:db8::2", 2));
  EXPECT_FALSE(encode_v2("not an address", 1, "192.0.2.1", 2));
}
