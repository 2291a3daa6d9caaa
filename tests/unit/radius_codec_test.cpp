#include <gtest/gtest.h>

#include "codec/radius/radius.hpp"
#include "test_util.hpp"

using namespace mobix;
using mobix::test::hex;

namespace {
// RFC 2865 section 7.1: "User Telnet to Specified Host", shared secret "xyzzy5461".
const auto kRfcRequest =
    hex("01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d 93 "
        "d4 13 ce"
        " 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03");
const auto kRfcAccept =
    hex("02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00 0e "
        "06 c0 a8 01 03");
const std::string kSecret = "xyzzy5461";
}  // namespace

TEST(RadiusCodec, DecodesRfc2865Example) {
  auto p = radius::decode(kRfcRequest);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->code, radius::Code::access_request);
  EXPECT_EQ(p->text(radius::attr::user_name), "nemo");
  EXPECT_EQ(p->ipv4(radius::attr::nas_ip_address), "192.168.1.16");
  EXPECT_EQ(p->integer(radius::attr::nas_port), 3u);
}

TEST(RadiusCodec, UnhidesRfc2865Password) {
  auto p = radius::decode(kRfcRequest);
  ASSERT_TRUE(p);
  auto pw = radius::unhide_password(p->find(radius::attr::user_password)->value, p->authenticator, kSecret);
  EXPECT_EQ(pw, "arctangent");
  // And hiding it again gives the RFC's bytes.
  EXPECT_EQ(radius::hide_password("arctangent", p->authenticator, kSecret),
            p->find(radius::attr::user_password)->value);
}

TEST(RadiusCodec, ResponseAuthenticatorMatchesRfc2865) {
  auto req = radius::decode(kRfcRequest);
  ASSERT_TRUE(req);
  radius::Packet resp;
  resp.code = radius::Code::access_accept;
  resp.identifier = 0;
  resp.add_integer(radius::attr::service_type, 1);
  resp.add_integer(15, 0);           // Login-Service: Telnet
  resp.add_ipv4(14, "192.168.1.3");  // Login-IP-Host
  EXPECT_EQ(radius::encode_response(resp, req->authenticator, kSecret), kRfcAccept);
  EXPECT_TRUE(radius::verify_response(kRfcAccept, req->authenticator, kSecret));
  EXPECT_FALSE(radius::verify_response(kRfcAccept, req->authenticator, "wrong"));
}

TEST(RadiusCodec, RejectsMalformedPackets) {
  EXPECT_EQ(radius::decode(hex("01 00 00 14")).error(), radius::DecodeError::too_short);
  auto p = kRfcRequest;
  p[3] = 0x60;  // length beyond the datagram
  EXPECT_EQ(radius::decode(p).error(), radius::DecodeError::length_mismatch);
  p = kRfcRequest;
  p[3] = 0x10;  // length below the header
  EXPECT_EQ(radius::decode(p).error(), radius::DecodeError::length_mismatch);
  p = kRfcRequest;
  p[21] = 0x01;  // attribute length 1
  EXPECT_EQ(radius::decode(p).error(), radius::DecodeError::bad_attribute);
  p = kRfcRequest;
  p[21] = 0x40;  // attribute running past the packet
  EXPECT_EQ(radius::decode(p).error(), radius::DecodeError::bad_attribute);
  p = kRfcRequest;
  p[0] = 99;
  EXPECT_EQ(radius::decode(p).error(), radius::DecodeError::unknown_code);
  std::vector<std::uint8_t> big(5000, 0);
  EXPECT_EQ(radius::decode(big).error(), radius::DecodeError::too_long);
}

TEST(RadiusCodec, IgnoresPaddingPastLength) {
  auto p = kRfcRequest;
  p.push_back(0xff);
  p.push_back(0xff);
  EXPECT_TRUE(radius::decode(p));
}

TEST(RadiusCodec, RoundTrip) {
  radius::Packet p;
  p.code = radius::Code::accounting_request;
  p.identifier = 42;
  p.add_text(radius::attr::user_name, "alice@example.net");
  p.add_integer(radius::attr::acct_status_type, 1);
  p.add_ipv4(radius::attr::framed_ip_address, "10.1.2.3");
  p.add_vendor_text(radius::kVendor3gpp, radius::k3gppImsi, "204080000000001");
  auto raw = radius::encode_accounting_request(p, "s3cret-s3cret");
  auto back = radius::decode(raw);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->identifier, 42);
  EXPECT_EQ(back->text(radius::attr::user_name), "alice@example.net");
  EXPECT_EQ(back->ipv4(radius::attr::framed_ip_address), "10.1.2.3");
  EXPECT_EQ(back->vendor_text(radius::kVendor3gpp, radius::k3gppImsi), "204080000000001");
  EXPECT_EQ(radius::encode(*back), raw);
  EXPECT_TRUE(radius::verify_accounting_request(raw, "s3cret-s3cret"));
  EXPECT_FALSE(radius::verify_accounting_request(raw, "other-secret"));
  raw.back() ^= 1;
  EXPECT_FALSE(radius::verify_accounting_request(raw, "s3cret-s3cret"));
}

TEST(RadiusCodec, MessageAuthenticator) {
  radius::Packet p;
  p.identifier = 7;
  p.add_text(radius::attr::user_name, "bob");
  auto without = radius::encode_access_request(p, "secret-1234");
  EXPECT_EQ(radius::check_request_message_authenticator(without, "secret-1234"),
            radius::MessageAuthenticatorCheck::absent);
  p.add_message_authenticator();
  auto with = radius::encode_access_request(p, "secret-1234");
  EXPECT_EQ(radius::check_request_message_authenticator(with, "secret-1234"),
            radius::MessageAuthenticatorCheck::valid);
  EXPECT_EQ(radius::check_request_message_authenticator(with, "secret-9999"),
            radius::MessageAuthenticatorCheck::invalid);
  with[5] ^= 1;  // tamper with the Request Authenticator
  EXPECT_EQ(radius::check_request_message_authenticator(with, "secret-1234"),
            radius::MessageAuthenticatorCheck::invalid);
}

TEST(RadiusCodec, ResponseWithMessageAuthenticatorVerifies) {
  radius::Authenticator req_auth = radius::random_authenticator();
  radius::Packet resp;
  resp.code = radius::Code::access_reject;
  resp.add_text(radius::attr::reply_message, "no");
  resp.add_message_authenticator();
  auto raw = radius::encode_response(resp, req_auth, "secret-1234");
  EXPECT_TRUE(radius::verify_response(raw, req_auth, "secret-1234"));
  raw[raw.size() - 1] ^= 1;  // corrupt the Message-Authenticator (last attribute)
  EXPECT_FALSE(radius::verify_response(raw, req_auth, "secret-1234"));
}

TEST(RadiusCodec, Chap) {
  radius::Packet p;
  p.authenticator = radius::random_authenticator();
  p.add(radius::attr::chap_challenge, test::hex("00112233445566778899aabbccddeeff"));
  // RFC 1994: MD5(ident 0x01 + "pw" + challenge), computed independently with `openssl md5`.
  p.add(radius::attr::chap_password, test::hex("01 057b955370d3b70ae83d7ee20d1e913b"));
  EXPECT_TRUE(radius::verify_chap(p, "pw"));
  EXPECT_FALSE(radius::verify_chap(p, "not-the-password"));
  // Without CHAP-Challenge the Request Authenticator is the challenge (RFC 2865 5.3).
  radius::Packet q;
  q.authenticator = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  q.add(radius::attr::chap_password, test::hex("01 057b955370d3b70ae83d7ee20d1e913b"));
  EXPECT_TRUE(radius::verify_chap(q, "pw"));
}

TEST(RadiusCodec, Ipv6Prefix) {
  radius::Packet p;
  p.add(radius::attr::framed_ipv6_prefix, test::hex("00 40 20 01 0d b8 00 01 00 00 00 00"));
  EXPECT_EQ(p.ipv6_prefix(), "2001:db8:1::/64");
  radius::Packet bad;
  bad.add(radius::attr::framed_ipv6_prefix, test::hex("00 81"));
  EXPECT_FALSE(bad.ipv6_prefix());
}
