#include "core/hex.hpp"

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

}  // namespace mobix
