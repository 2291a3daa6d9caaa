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

TEST(ImapCodec, UpstreamTaggedResponses) {
  auto r = parse_tagged("m1 OK [CAPABILITY IMAP4rev1 IDLE] Logged in", "m1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Status::ok);
  EXPECT_EQ(r->text, "[CAPABILITY IMAP4rev1 IDLE] Logged in");
  EXPECT_EQ(parse_tagged("m1 no [AUTHENTICATIONFAILED] nope", "m1")->status, Status::no);
  EXPECT_EQ(parse_tagged("m1 BAD", "m1")->status, Status::bad);
  EXPECT_EQ(parse_tagged("m1 OKAY fine", "m1")->status, Status::malformed)
      << "a word that starts with OK is not OK";
  EXPECT_FALSE(parse_tagged("* OK untagged", "m1"));
  EXPECT_FALSE(parse_tagged("m10 OK another tag", "m1"));
  EXPECT_FALSE(parse_tagged("m1", "m1"));
}

TEST(ImapCodec, Greetings) {
  EXPECT_TRUE(is_ok_greeting("* OK [CAPABILITY IMAP4rev1] Dovecot ready."));
  EXPECT_TRUE(is_ok_greeting("* ok"));
  EXPECT_FALSE(is_ok_greeting("* PREAUTH logged in already"));
  EXPECT_FALSE(is_ok_greeting("* BYE too many connections"));
  EXPECT_FALSE(is_ok_greeting("* OKAY"));
}
