#include "core/hex.hpp"
#include "core/text.hpp"

#include <gtest/gtest.h>

namespace mobix {

TEST(Hex, DecodesBothCases) {
  auto k = decode_hex("00ff7Aa5");
  ASSERT_TRUE(k);
  EXPECT_EQ(*k, (std::vector<std::uint8_t>{0x00, 0xff, 0x7a, 0xa5}));
}

TEST(Hex, RefusesEmptyOddAndNonHex) {
  EXPECT_FALSE(decode_hex(""));
  EXPECT_FALSE(decode_hex("abc")) << "odd length";
  EXPECT_FALSE(decode_hex("0g")) << "not a hex digit";
  EXPECT_FALSE(decode_hex("0 ")) << "a space";
  EXPECT_FALSE(decode_hex("+1")) << "a sign (std::stoi would take it)";
}

TEST(Text, IdentityTokens) {
  EXPECT_TRUE(is_identity_token("IPUI-0001"));
  EXPECT_TRUE(is_identity_token("a.b_c:d-E9"));
  EXPECT_TRUE(is_identity_token(std::string(64, 'x')));
  EXPECT_FALSE(is_identity_token("abc")) << "shorter than 4";
  EXPECT_FALSE(is_identity_token(std::string(65, 'x'))) << "longer than 64";
  EXPECT_FALSE(is_identity_token("IPUI/0001")) << "a slash would change a URL path";
  EXPECT_FALSE(is_identity_token("IPUI 0001"));
  EXPECT_FALSE(is_identity_token(std::string("IPUI\0-01", 8)));
  EXPECT_FALSE(is_identity_token("IPUI-\xc3\xa9")) << "ASCII only";
}

}  // namespace mobix
