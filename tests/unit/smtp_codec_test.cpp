#include <gtest/gtest.h>

#include "codec/smtp/smtp.hpp"

using namespace mobix::smtp;

TEST(SmtpCodec, Commands) {
  auto c = parse_command("mail FROM:<a@b> SIZE=10");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->verb, "MAIL");
  EXPECT_EQ(c->argument, "FROM:<a@b> SIZE=10");
  EXPECT_FALSE(parse_command(""));
  EXPECT_FALSE(parse_command("M1L x"));
  EXPECT_FALSE(parse_command("NOOP " + std::string(600, 'x')));
}

TEST(SmtpCodec, MailFrom) {
  auto m = parse_mail_from("FROM:<user@default.invalid> SIZE=1234 BODY=8BITMIME");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->address, "user@default.invalid");
  EXPECT_EQ(m->parameters, " SIZE=1234 BODY=8BITMIME");
  EXPECT_EQ(parse_mail_from("from: <>")->address, "");
  EXPECT_FALSE(parse_mail_from("TO:<a@b>"));
  EXPECT_FALSE(parse_mail_from("FROM:a@b"));
  EXPECT_FALSE(parse_mail_from("FROM:<a@b>SIZE=1"));
}

TEST(SmtpCodec, Replies) {
  EXPECT_EQ(parse_reply_line("250-SIZE 100")->more, true);
  EXPECT_EQ(parse_reply_line("250 OK")->code, 250);
  EXPECT_FALSE(parse_reply_line("25"));
  EXPECT_FALSE(parse_reply_line("abc def"));
  EXPECT_FALSE(parse_reply_line("250xOK"));
}

TEST(SmtpCodec, DisplayName) {
  EXPECT_EQ(display_name("Bob Example"), "\"Bob Example\"");
  EXPECT_EQ(display_name("Say \"hi\""), "\"Say \\\"hi\\\"\"");
  // RFC 2047 B encoding of UTF-8 "Alice Ångström".
  EXPECT_EQ(display_name("Alice \xc3\x85ngstr\xc3\xb6m"), "=?UTF-8?B?QWxpY2Ugw4VuZ3N0csO2bQ==?=");
  auto long_name = display_name(std::string(40, 'a') + "\xc3\xa9" + std::string(40, 'b'));
  EXPECT_NE(long_name.find("?=\r\n =?UTF-8?B?"), std::string::npos) << "split into several encoded-words";
  // Found by fuzzing: a run of UTF-8 continuation octets used to loop forever.
  EXPECT_FALSE(display_name(std::string(100, '\x80')).empty());
}

TEST(SmtpCodec, RewriteFromReplacesOnlyTheFromField) {
  std::string msg =
      "Received: x\r\nFrom: Mobile User\r\n <user@default.invalid>\r\nSubject: From: not a header\r\n\r\n"
      "From: in the body stays\r\n";
  auto out = rewrite_from(msg, "alice@mail.test", "Alice");
  EXPECT_EQ(out,
            "Received: x\r\nFrom: \"Alice\" <alice@mail.test>\r\nSubject: From: not a header\r\n\r\n"
            "From: in the body stays\r\n");
}

TEST(SmtpCodec, RewriteFromAddsMissingFromAndKeepsFromPrefixedFields) {
  EXPECT_EQ(rewrite_from("Subject: x\r\n\r\nbody\r\n", "a@b", ""),
            "From: <a@b>\r\nSubject: x\r\n\r\nbody\r\n");
  auto out = rewrite_from("Fromage: cheese\r\nfrom : x@y\r\n\r\n", "a@b", "");
  EXPECT_EQ(out, "Fromage: cheese\r\nFrom: <a@b>\r\n\r\n");
}

TEST(SmtpCodec, RewriteFromReplacesEveryOriginatorField) {
  // Issue 12 item 5: a second From:, a Sender: or a Resent-From: used to reach the upstream.
  std::string msg =
      "From: a@x\r\nSubject: s\r\nFROM: b@y\r\nSender: c@z\r\n\tfolded\r\nResent-From: d@w\r\n"
      "Resent-Sender: e@v\r\nReply-To: me@home\r\n\r\nFrom: body\r\n";
  EXPECT_EQ(rewrite_from(msg, "alice@mail.test", ""),
            "From: <alice@mail.test>\r\nSubject: s\r\nReply-To: me@home\r\n\r\nFrom: body\r\n");
}

TEST(SmtpCodec, RewriteFromNormalisesBareLineEndings) {
  // A From: behind a bare LF used to hide from the scan and reach a lenient server as a header.
  EXPECT_EQ(rewrite_from("Subject: s\nFrom: evil@x\n\nbody\rmore", "a@b", ""),
            "Subject: s\r\nFrom: <a@b>\r\n\r\nbody\r\nmore\r\n");
  EXPECT_EQ(normalize_line_endings("a\r\nb\nc\rd"), "a\r\nb\r\nc\r\nd\r\n");
  EXPECT_EQ(normalize_line_endings(""), "");
}

TEST(SmtpCodec, DotStuffingAfterNormalisationStopsSmuggling) {
  // "\n.\n" inside a line would end DATA at a lenient server and start a smuggled transaction.
  auto body = dot_stuff(normalize_line_endings("x\n.\nMAIL FROM:<evil@x>\r\n.leading\r\n"));
  EXPECT_EQ(body, "x\r\n..\r\nMAIL FROM:<evil@x>\r\n..leading\r\n");
  EXPECT_EQ(body.find("\r\n.\r\n"), std::string::npos) << "no end-of-data inside the message";
}

TEST(SmtpCodec, Base64) {
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64(std::string("\0alice\0pw", 9)), "AGFsaWNlAHB3");
}

namespace {
// What the proxy streams for a message the handset sent as `raw` (un-stuffed): split into lines
// on CRLF as read_line does, fed one by one.
std::string streamed(const std::string& raw) {
  mobix::smtp::DataRewriter rw("alice@mail.test", "Alice");
  std::string out;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    auto eol = raw.find("\r\n", pos);
    auto line = raw.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    EXPECT_EQ(rw.line(line, out), mobix::smtp::DataRewriter::Status::ok);
    pos = eol == std::string::npos ? raw.size() : eol + 2;
  }
  rw.finish(out);
  return out;
}
std::string whole(const std::string& raw) {
  std::string data = raw;
  if (!data.empty() && !data.ends_with("\r\n")) data += "\r\n";  // the proxy's lines each end in CRLF
  return mobix::smtp::dot_stuff(mobix::smtp::rewrite_from(data, "alice@mail.test", "Alice"));
}
}  // namespace

TEST(SmtpCodec, StreamedRewriteEqualsTheWholeMessageRewrite) {
  const std::string cases[] = {
      "",
      "Subject: no body",
      "From: bob@evil.test\r\nSubject: hi\r\n\r\nbody\r\n.hidden dot\r\n",
      "Subject: x\r\nFrom: a@b\r\n (folded)\r\nSender: c@d\r\n\r\nFrom: in the body stays\r\n",
      "\r\nFrom: after an empty first line is body\r\n",
      "Subject: bare\nFrom: hidden@evil.test\n\nbody\n.\nsmuggled\r\n",  // blank line behind bare LFs
      "Subject: cr\rFrom: x@y\r\r\nbody\r",
      "X: 1\r\n\r\n\r\n\r\n.\r\n..\r\n",
  };
  for (const auto& c : cases) EXPECT_EQ(streamed(c), whole(c)) << "message: " << c;
  // The smuggling attempt: the bare-LF "." is stuffed, so it cannot end DATA upstream.
  EXPECT_EQ(streamed(cases[5]).find("\r\n.\r\n"), std::string::npos);
}

TEST(SmtpCodec, StreamedRewriteHoldsOnlyTheHeaderSection) {
  mobix::smtp::DataRewriter rw("alice@mail.test", "");
  std::string out;
  ASSERT_EQ(rw.line("Subject: big body", out), mobix::smtp::DataRewriter::Status::ok);
  ASSERT_EQ(rw.line("", out), mobix::smtp::DataRewriter::Status::ok);
  EXPECT_EQ(out, "From: <alice@mail.test>\r\nSubject: big body\r\n\r\n");
  out.clear();
  ASSERT_EQ(rw.line("a body line", out), mobix::smtp::DataRewriter::Status::ok);
  EXPECT_EQ(out, "a body line\r\n") << "body lines pass straight through";
  // A header section without end is refused past the cap, never sent half-rewritten.
  mobix::smtp::DataRewriter big("alice@mail.test", "");
  std::string none;
  auto st = mobix::smtp::DataRewriter::Status::ok;
  for (int i = 0; i < 10000 && st == mobix::smtp::DataRewriter::Status::ok; ++i)
    st = big.line("X-Filler: " + std::string(50, 'x'), none);
  EXPECT_EQ(st, mobix::smtp::DataRewriter::Status::header_too_big);
  EXPECT_TRUE(none.empty());
}

// DATA as the handset sends it (dot-stuffed, ended by a lone "."), read in chunks of every size:
// feed() hands the upstream what reading it line by line does, and stops right after the ".".
TEST(SmtpCodec, FeedingDataInChunksEqualsReadingItLineByLine) {
  const std::string messages[] = {
      "Subject: hi\r\nFrom: bob@evil.test\r\n\r\nbody\r\n..stuffed\r\n.unstuffed\r\nlast\r\n",
      "Subject: bare\nFrom: hidden@evil.test\n\nbody\n.\nsmuggled\r\nmore\rcr\r\n",
      "\r\nbody only\r\n\r\n",
      "X: 1\r\n\r\n" + std::string(5000, 'a') + "\r\n" + std::string(70, 'b') + "\r\n",
  };
  for (const auto& m : messages) {
    const std::string wire = m + ".\r\nMAIL FROM:<next@x>\r\n";  // a pipelined command follows
    mobix::smtp::DataRewriter by_line("alice@mail.test", "Alice");
    std::string want;
    std::size_t pos = 0;
    for (;;) {
      auto eol = wire.find("\r\n", pos);
      std::string_view line(wire.data() + pos, eol - pos);
      pos = eol + 2;
      if (line == ".") break;
      if (line.starts_with('.')) line.remove_prefix(1);
      ASSERT_EQ(by_line.line(line, want), mobix::smtp::DataRewriter::Status::ok);
    }
    for (std::size_t chunk : {1, 2, 3, 7, 64, 100000}) {
      mobix::smtp::DataRewriter in_bulk("alice@mail.test", "Alice");
      std::string got, buf;
      std::size_t at = 0, octets = 0;
      bool ended = false;
      while (!ended && at < wire.size()) {
        buf.append(wire, at, chunk);
        at += chunk;
        auto fed = in_bulk.feed(buf, got);
        buf.erase(0, fed.consumed);
        octets += fed.octets;
        ended = fed.ended;
      }
      EXPECT_TRUE(ended) << "chunk " << chunk;
      EXPECT_EQ(got, want) << "chunk " << chunk << ", message: " << m;
      EXPECT_EQ(buf + wire.substr(std::min(at, wire.size())), "MAIL FROM:<next@x>\r\n") << "chunk " << chunk;
      EXPECT_GT(octets, 0U);
    }
  }
}

TEST(SmtpCodec, ReplyReaderAssemblesMultiLineReplies) {
  ReplyReader r;
  EXPECT_EQ(r.line("250-mail.test"), ReplyReader::Status::more);
  EXPECT_EQ(r.line("250-STARTTLS"), ReplyReader::Status::more);
  EXPECT_EQ(r.line("250 AUTH PLAIN LOGIN"), ReplyReader::Status::done);
  EXPECT_EQ(r.reply().code, 250);
  EXPECT_EQ(ehlo_keyword(r.reply(), "AUTH"), "PLAIN LOGIN");
  EXPECT_EQ(ehlo_keyword(r.reply(), "STARTTLS"), "");
  EXPECT_FALSE(ehlo_keyword(r.reply(), "MAIL")) << "the greeting line is not a keyword";
  EXPECT_FALSE(ehlo_keyword(r.reply(), "AUT"));

  ReplyReader mixed;  // RFC 5321 4.2.1: the same code on every line
  EXPECT_EQ(mixed.line("250-a"), ReplyReader::Status::more);
  EXPECT_EQ(mixed.line("451 b"), ReplyReader::Status::bad);

  ReplyReader endless;
  ReplyReader::Status s = ReplyReader::Status::more;
  for (int i = 0; i < ReplyReader::kMaxLines + 1 && s == ReplyReader::Status::more; ++i)
    s = endless.line("250-x");
  EXPECT_EQ(s, ReplyReader::Status::bad);
  EXPECT_FALSE(parse_reply_line("250 a\nb")) << "a bare LF is not part of a reply line (RFC 5321 2.3.8)";
}
