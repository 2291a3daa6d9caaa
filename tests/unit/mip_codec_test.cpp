// Mobile IPv4 registration codec (RFC 5944 3.3-3.5). The expected octets and authenticators were
// computed independently with Python's struct and hmac modules (HMAC-MD5 over the message and the
// extension's type, length and SPI, RFC 5944 3.5.1).
#include <gtest/gtest.h>

#include "codec/mip/mip.hpp"

namespace mobix::mip {
namespace {

std::vector<std::uint8_t> hex(const std::string& h) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

SecurityAssociation sa() {
  return {256, hex("00112233445566778899aabbccddeeff")};
}

Request sample_request() {
  Request r;
  r.flags = flag::reverse_tunnel;
  r.lifetime = 1800;
  r.home_address = *ipv4_from_string("10.64.0.7");
  r.home_agent = *ipv4_from_string("192.0.2.1");
  r.care_of = *ipv4_from_string("198.51.100.9");
  r.identification = 0xEC5C8A0012345678ull;
  return r;
}

TEST(MipCodec, RequestEncodesAsTheRfcLaysItOutWithItsAuthenticator) {
  auto wire = encode_request(sample_request(), sa());
  EXPECT_EQ(wire, hex("010207080a400007c0000201c6336409ec5c8a0012345678201400000100"
                      "cbef1c7e63076f9c9ef7b73a5471910f"));
}

TEST(MipCodec, ReplyEncodesAsTheRfcLaysItOutWithItsAuthenticator) {
  Reply r;
  r.code = Code::identification_mismatch;
  r.home_address = *ipv4_from_string("10.64.0.7");
  r.home_agent = *ipv4_from_string("192.0.2.1");
  r.identification = 0xEC5C8A1012345678ull;
  EXPECT_EQ(encode_reply(r, sa()), hex("038500000a400007c0000201ec5c8a1012345678201400000100"
                                       "3dbc9ee8b5cf58b982d63d9c4f2d8fba"));
}

TEST(MipCodec, ARequestRoundTripsAndVerifiesOnlyWithItsKey) {
  auto wire = encode_request(sample_request(), sa());
  auto d = std::get<Decoded<Request>>(decode_request(wire));
  EXPECT_EQ(d.message.lifetime, 1800);
  EXPECT_EQ(ipv4_to_string(d.message.care_of), "198.51.100.9");
  EXPECT_EQ(d.message.identification, 0xEC5C8A0012345678ull);
  ASSERT_TRUE(d.mobile_home);
  EXPECT_EQ(d.mobile_home->spi, 256u);
  EXPECT_EQ(d.mobile_home->covered, kRequestSize + 6);
  EXPECT_TRUE(verify(wire, *d.mobile_home, sa().key));
  auto other = sa().key;
  other[0] ^= 1;
  EXPECT_FALSE(verify(wire, *d.mobile_home, other));
  wire[3] ^= 1;  // the lifetime changed in flight
  EXPECT_FALSE(verify(wire, *d.mobile_home, sa().key));
}

TEST(MipCodec, ExtensionsAfterTheAuthenticatorAreOutsideItAndUnknownCriticalOnesAreReported) {
  auto wire = encode_request(sample_request(), sa());
  wire.insert(wire.end(), {33, 4, 0, 0, 1, 0});  // a Mobile-Foreign extension (for a foreign agent)
  auto d = std::get<Decoded<Request>>(decode_request(wire));
  EXPECT_TRUE(verify(wire, *d.mobile_home, sa().key));
  EXPECT_FALSE(d.unknown_critical);

  std::vector<std::uint8_t> critical(wire.begin(), wire.begin() + kRequestSize);
  critical.insert(critical.end(), {99, 2, 0, 0});  // unknown, 0-127, before the authenticator
  auto with_auth = encode_request(sample_request(), sa());
  critical.insert(critical.end(), with_auth.begin() + kRequestSize, with_auth.end());
  auto c = std::get<Decoded<Request>>(decode_request(critical));
  EXPECT_EQ(c.unknown_critical, 99);

  std::vector<std::uint8_t> skippable(wire.begin(), wire.begin() + kRequestSize);
  skippable.insert(skippable.end(), {200, 2, 0, 0});  // unknown, 128-255: skipped
  EXPECT_FALSE(std::get<Decoded<Request>>(decode_request(skippable)).unknown_critical);
}

TEST(MipCodec, MalformedMessagesAreRefusedWithTheirReason) {
  auto wire = encode_request(sample_request(), sa());
  EXPECT_EQ(std::get<Error>(decode_request(std::span(wire).first(23))), Error::too_short);
  auto bad = wire;
  bad[0] = kTypeReply;
  EXPECT_EQ(std::get<Error>(decode_request(bad)), Error::wrong_type);
  bad = wire;
  bad[kRequestSize + 1] = 200;  // the extension claims more than there is
  EXPECT_EQ(std::get<Error>(decode_request(bad)), Error::truncated_extension);
  bad = wire;
  bad.resize(kRequestSize + 1);
  EXPECT_EQ(std::get<Error>(decode_request(bad)), Error::truncated_extension);
  std::vector<std::uint8_t> short_auth(wire.begin(), wire.begin() + kRequestSize);
  short_auth.insert(short_auth.end(), {32, 4, 0, 0, 1, 0});
  EXPECT_EQ(std::get<Error>(decode_request(short_auth)), Error::bad_auth_extension);
  std::vector<std::uint8_t> huge(kMaxMessageSize + 1, 0);
  huge[0] = kTypeRequest;
  EXPECT_EQ(std::get<Error>(decode_request(huge)), Error::too_long);
}

TEST(MipCodec, TheHomeAddressIsPeekedOnlyFromWhatCouldBeARequest) {
  auto wire = encode_request(sample_request(), sa());
  EXPECT_EQ(peek_home_address(wire), ipv4_from_string("10.64.0.7"));
  EXPECT_EQ(peek_home_address(std::span(wire).first(kRequestSize)), ipv4_from_string("10.64.0.7"))
      << "the fixed part is enough (the checks come after the key is found)";
  EXPECT_FALSE(peek_home_address(std::span(wire).first(kRequestSize - 1)));
  auto reply = wire;
  reply[0] = kTypeReply;
  EXPECT_FALSE(peek_home_address(reply));
  std::vector<std::uint8_t> huge(kMaxMessageSize + 1, 0);
  huge[0] = kTypeRequest;
  EXPECT_FALSE(peek_home_address(huge));
}

TEST(MipCodec, TimestampIdentificationsCarryNtpSecondsAcrossTheEraBoundary) {
  auto id = timestamp_identification(1'796'000'000, 0xabcdef01);
  EXPECT_EQ(id & 0xffffffffu, 0xabcdef01u);
  EXPECT_EQ(identification_unix_seconds(id), 1'796'000'000);
  // 2036-02-07 06:28:16 UTC starts NTP era 1: the seconds wrap, the Unix time does not.
  auto after = timestamp_identification(2'085'978'500, 0);
  EXPECT_LT(after >> 32, 1000u);
  EXPECT_EQ(identification_unix_seconds(after), 2'085'978'500);
}

}  // namespace
}  // namespace mobix::mip
