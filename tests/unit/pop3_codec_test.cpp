#include <gtest/gtest.h>

#include "codec/pop3/pop3.hpp"

using namespace mobix::pop3;

TEST(Pop3Codec, ParsesCommands) {
  auto p = parse_command("user mobile");
  ASSERT_TRUE(p.command);
  EXPECT_EQ(p.command->verb, Verb::user);
  EXPECT_EQ(p.command->keyword, "USER");
  EXPECT_EQ(p.command->argument, "mobile");
  p = parse_command("PASS pass with spaces");
  ASSERT_TRUE(p.command);
  EXPECT_EQ(p.command->argument, "pass with spaces");
  EXPECT_EQ(parse_command("CAPA").command->verb, Verb::capa);
  EXPECT_EQ(parse_command("RETR 1").command->verb, Verb::other);
}

TEST(Pop3Codec, RejectsBadLines) {
  EXPECT_EQ(parse_command("").error, ParseError::empty);
  EXPECT_EQ(parse_command("US").error, ParseError::bad_keyword);
  EXPECT_EQ(parse_command("USERS x").error, ParseError::bad_keyword);
  EXPECT_EQ(parse_command("U5ER x").error, ParseError::bad_keyword);
  EXPECT_EQ(parse_command(std::string("PASS a\x01") + "b").error, ParseError::bad_keyword);
  EXPECT_EQ(parse_command("PASS " + std::string(300, 'x')).error, ParseError::too_long);
  EXPECT_FALSE(parse_command("PASS " + std::string(300, 'x')).command);
}

TEST(Pop3Codec, StatusLines) {
  EXPECT_TRUE(is_ok("+OK logged in"));
  EXPECT_FALSE(is_ok("-ERR [AUTH] no"));
  EXPECT_FALSE(is_ok("+O"));
}
