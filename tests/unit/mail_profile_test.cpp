#include <gtest/gtest.h>

#include "directory/directory.hpp"
#include "mail/mail_profile.hpp"

using namespace mobix;
using net::TlsMode;

namespace {
Subscriber with(std::map<std::string, std::string> attrs) {
  Subscriber s;
  s.msisdn = "31610000001";
  s.attrs = std::move(attrs);
  return s;
}
}  // namespace

TEST(MailProfile, TlsModeFromWellKnownPortsRfc8314) {
  auto p =
      pop3_profile(with({{"mail.pop3", "mail.example.net:995"}, {"mail.user", "u"}, {"mail.password", "p"}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pop3->host, "mail.example.net") << "server names are allowed, not only addresses";
  EXPECT_EQ(p->pop3_tls, TlsMode::implicit);
  auto i = imap_profile(with({{"mail.imap", "10.0.0.1:143"}, {"mail.user", "u"}, {"mail.password", "p"}}));
  ASSERT_TRUE(i);
  EXPECT_EQ(i->imap_tls, TlsMode::none);
  auto s = smtp_profile(with({{"mail.smtp", "smtp.example.net:587"}, {"mail.address", "a@example.net"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->smtp_tls, TlsMode::starttls);
  EXPECT_TRUE(s->smtp_user.empty()) << "no credentials: no AUTH upstream";
}

TEST(MailProfile, ExplicitTlsModeWins) {
  auto p = pop3_profile(with({{"mail.pop3", "10.0.0.1:995"},
                              {"mail.pop3_tls", "starttls"},
                              {"mail.user", "u"},
                              {"mail.password", "p"}}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->pop3_tls, TlsMode::starttls);
}

TEST(MailProfile, UnusableProfiles) {
  EXPECT_FALSE(pop3_profile(with({{"mail.pop3", "10.0.0.1:110"}}))) << "no credentials";
  EXPECT_FALSE(
      pop3_profile(with({{"mail.pop3", "not an endpoint"}, {"mail.user", "u"}, {"mail.password", "p"}})));
  EXPECT_FALSE(smtp_profile(with({{"mail.smtp", "10.0.0.1:25"}, {"mail.address", "no-at-sign"}})));
}

TEST(MailProfile, BadTlsModeIsRefusedWhenProvisioned) {
  auto s = with({{"mail.smtp_tls", "maybe"}});
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument);
  s.attrs["mail.smtp_tls"] = "tls";
  EXPECT_NO_THROW(validate_subscriber(s));
}

TEST(MailProfile, ParsesTlsModes) {
  EXPECT_EQ(net::parse_tls_mode("none"), TlsMode::none);
  EXPECT_EQ(net::parse_tls_mode("tls"), TlsMode::implicit);
  EXPECT_EQ(net::parse_tls_mode("starttls"), TlsMode::starttls);
  EXPECT_FALSE(net::parse_tls_mode("TLS"));
}

TEST(MailProfile, SubmissionCredentialsFallBackOneByOne) {
  auto s = smtp_profile(with({{"mail.smtp", "10.0.0.1:587"},
                              {"mail.address", "a@example.net"},
                              {"mail.user", "alice"},
                              {"mail.password", "imap-pw"},
                              {"mail.smtp_password", "smtp-pw"}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->smtp_user, "alice");
  EXPECT_EQ(s->smtp_password, "smtp-pw");
}

TEST(MailProfile, ControlCharactersMakeAProfileUnusable) {
  // A CR LF in a directory value would add a command to the upstream session (RCPT, PASS ...).
  EXPECT_FALSE(
      smtp_profile(with({{"mail.smtp", "10.0.0.1:25"}, {"mail.address", "a@x.test>\r\nRCPT TO:<b@y.test"}})));
  EXPECT_FALSE(smtp_profile(with({{"mail.smtp", "10.0.0.1:25"}, {"mail.address", "a b@x.test"}})));
  EXPECT_FALSE(smtp_profile(
      with({{"mail.smtp", "10.0.0.1:25"}, {"mail.address", "a@x.test"}, {"mail.name", "A\nB"}})));
  EXPECT_FALSE(pop3_profile(
      with({{"mail.pop3", "10.0.0.1:110"}, {"mail.user", "u\r\nDELE 1"}, {"mail.password", "p"}})));
  EXPECT_FALSE(
      imap_profile(with({{"mail.imap", "10.0.0.1:143"}, {"mail.user", "u"}, {"mail.password", "p\x7f"}})));
  EXPECT_TRUE(smtp_profile(
      with({{"mail.smtp", "10.0.0.1:25"}, {"mail.address", "a@x.test"}, {"mail.name", "Ångström"}})))
      << "UTF-8 is not a control character";
}

TEST(MailProfile, DirectoryRefusesControlCharactersInAttributes) {
  auto s = with({{"mail.address", "a@x.test\r\nRCPT TO:<b@y.test>"}});
  EXPECT_THROW(validate_subscriber(s), std::invalid_argument);
  auto ok = with({{"mail.name", "Alice Ångström"}});
  EXPECT_NO_THROW(validate_subscriber(ok));
}
