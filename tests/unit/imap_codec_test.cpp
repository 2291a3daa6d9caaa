#include <gtest/gtest.h>

#include "codec/imap/imap.hpp"

using namespace mobix::imap;

TEST(ImapCodec, Commands) {
  auto c = parse_command("a001 login mobile mobile");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tag, "a001");
  EXPECT_EQ(c->name, "LOGIN");
  EXPECT_EQ(c->args, "mobile mobile");
  EXPECT_EQ(parse_command("A2 CAPABILITY")->args, "");
  EXPECT_FALSE(parse_command("CAPABILITY"));
  EXPECT_FALSE(parse_command(" LOGIN x"));
  EXPECT_FALSE(parse_command("a+b LOGIN x")) << "+ is not allowed in a tag";
  EXPECT_FALSE(parse_command("a1 LOG1N x"));
  EXPECT_FALSE(parse_command(std::string(100, 'a') + " NOOP"));
}

TEST(ImapCodec, Literals) {
  auto l = literal_at_end("a1 LOGIN {6}");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size, 6u);
  EXPECT_FALSE(l->non_synchronizing);
  EXPECT_TRUE(literal_at_end("a1 LOGIN {12+}")->non_synchronizing);
  EXPECT_FALSE(literal_at_end("a1 LOGIN {}"));
  EXPECT_FALSE(literal_at_end("a1 LOGIN {1x}"));
  EXPECT_FALSE(literal_at_end("a1 LOGIN {99999999999}"));
  EXPECT_FALSE(literal_at_end("a1 LOGIN x"));
}

TEST(ImapCodec, Quoted) {
  EXPECT_EQ(quoted("alice"), "\"alice\"");
  EXPECT_EQ(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_FALSE(quoted("a\r\nb"));
  EXPECT_FALSE(mobix::imap::quoted(std::string("a\0b", 3)));
}
