#include <gtest/gtest.h>

#include "codec/signal/signal.hpp"

using namespace mobix::signal;

namespace {
Key key_of(std::uint8_t fill) {
  Key k;
  k.fill(fill);
  return k;
}

AccessRequest sample() {
  AccessRequest r;
  r.tunnel_id = 0x0102030405060708ull;
  r.expires = 1'800'000'000;
  r.relay_ip = "198.51.100.7";
  r.callback_port = 7443;
  r.target_port = 8080;
  r.protocol = Protocol::http;
  for (std::size_t i = 0; i < r.one_time_key.size(); ++i)
    r.one_time_key[i] = static_cast<std::uint8_t>(i * 7);
  r.msisdn = "316100000001";
  return r;
}

const AccessRequest& opened(const std::variant<AccessRequest, Error>& v) {
  if (auto* e = std::get_if<Error>(&v)) ADD_FAILURE() << to_string(*e);
  return std::get<AccessRequest>(v);
}
}  // namespace

TEST(Signal, RoundTripFitsOneSms) {
  auto sealed = std::get<std::vector<std::uint8_t>>(seal(sample(), 3, key_of(0x42)));
  EXPECT_EQ(sealed.size(), 81u);  // 30 overhead + 36 fixed + 4 address + 1 + 12 digits
  auto r = opened(open(sealed, Keyring{{3, key_of(0x42)}}));
  auto want = sample();
  EXPECT_EQ(r.tunnel_id, want.tunnel_id);
  EXPECT_EQ(r.expires, want.expires);
  EXPECT_EQ(r.relay_ip, want.relay_ip);
  EXPECT_EQ(r.callback_port, want.callback_port);
  EXPECT_EQ(r.target_port, want.target_port);
  EXPECT_EQ(r.protocol, want.protocol);
  EXPECT_EQ(r.one_time_key, want.one_time_key);
  EXPECT_EQ(r.msisdn, want.msisdn);
}

TEST(Signal, LargestFitsOneSms) {
  auto r = sample();
  r.relay_ip = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff";
  r.msisdn = "123456789012345";
  auto sealed = std::get<std::vector<std::uint8_t>>(seal(r, 1, key_of(1)));
  EXPECT_LE(sealed.size(), kMaxSealedSize);
  EXPECT_EQ(opened(open(sealed, Keyring{{1, key_of(1)}})).relay_ip, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
}

TEST(Signal, FreshNonceEverySeal) {
  auto a = std::get<std::vector<std::uint8_t>>(seal(sample(), 1, key_of(1)));
  auto b = std::get<std::vector<std::uint8_t>>(seal(sample(), 1, key_of(1)));
  EXPECT_NE(a, b) << "same request sealed twice must not give the same octets";
}

TEST(Signal, EveryTamperedOctetIsRefused) {
  auto sealed = std::get<std::vector<std::uint8_t>>(seal(sample(), 1, key_of(9)));
  Keyring keys{{1, key_of(9)}};
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    auto t = sealed;
    t[i] ^= 0x01;
    auto res = open(t, keys);
    ASSERT_TRUE(std::holds_alternative<Error>(res)) << "octet " << i;
    auto e = std::get<Error>(res);
    if (i == 0)
      EXPECT_EQ(e, Error::bad_version);
    else if (i == 1)
      EXPECT_EQ(e, Error::unknown_key);
    else
      EXPECT_EQ(e, Error::forged) << "octet " << i;
  }
}

TEST(Signal, WrongKeyUnknownKeyTruncated) {
  auto sealed = std::get<std::vector<std::uint8_t>>(seal(sample(), 1, key_of(9)));
  EXPECT_EQ(std::get<Error>(open(sealed, Keyring{{1, key_of(8)}})), Error::forged);
  EXPECT_EQ(std::get<Error>(open(sealed, Keyring{{2, key_of(9)}})), Error::unknown_key);
  auto cut = sealed;
  cut.pop_back();
  EXPECT_EQ(std::get<Error>(open(cut, Keyring{{1, key_of(9)}})), Error::forged);
  EXPECT_EQ(std::get<Error>(open(std::span(sealed).first(20), Keyring{{1, key_of(9)}})), Error::too_short);
  // Key rotation: the old and the new key both open their own signals.
  Keyring both{{1, key_of(9)}, {2, key_of(10)}};
  auto newer = std::get<std::vector<std::uint8_t>>(seal(sample(), 2, key_of(10)));
  EXPECT_TRUE(std::holds_alternative<AccessRequest>(open(sealed, both)));
  EXPECT_TRUE(std::holds_alternative<AccessRequest>(open(newer, both)));
}

TEST(Signal, FieldsThatCannotBeEncoded) {
  auto r = sample();
  r.msisdn = "+31 6";
  EXPECT_EQ(std::get<Error>(seal(r, 1, key_of(1))), Error::bad_field);
  r = sample();
  r.relay_ip = "relay.example.net";
  EXPECT_EQ(std::get<Error>(seal(r, 1, key_of(1))), Error::bad_field);
  r = sample();
  r.callback_port = 0;
  EXPECT_EQ(std::get<Error>(seal(r, 1, key_of(1))), Error::bad_field);
}

TEST(ReplayGuard, OnceBeforeExpiryNotTooFarAhead) {
  ReplayGuard g(120);
  auto r = sample();
  const std::uint32_t now = r.expires - 60;
  EXPECT_EQ(g.check(r, now), ReplayGuard::Verdict::accept);
  EXPECT_EQ(g.check(r, now + 1), ReplayGuard::Verdict::replayed);
  EXPECT_EQ(g.check(r, r.expires + 1), ReplayGuard::Verdict::expired);
  auto far = sample();
  far.tunnel_id = 2;
  EXPECT_EQ(g.check(far, far.expires - 3600), ReplayGuard::Verdict::too_far_ahead);
  // Expired ids are forgotten, so the memory stays bounded by the signal lifetime.
  auto other = sample();
  other.tunnel_id = 3;
  other.expires = r.expires + 100;
  EXPECT_EQ(g.check(other, r.expires + 50), ReplayGuard::Verdict::accept);
  EXPECT_EQ(g.remembered(), 1u);
}

TEST(Signal, KeyFromHex) {
  auto k = key_from_hex(std::string(62, '0') + "aF");
  ASSERT_TRUE(k);
  EXPECT_EQ((*k)[31], 0xAF);
  EXPECT_FALSE(key_from_hex(std::string(63, '0'))) << "odd length";
  EXPECT_FALSE(key_from_hex(std::string(62, '0') + "zz")) << "not hex";
}

#include "codec/signal/signal_mail.hpp"

TEST(SignalMail, RoundTripThroughAnEmail) {
  auto sealed = std::get<std::vector<std::uint8_t>>(seal(sample(), 1, key_of(7)));
  auto mail = compose_mail("relay@relay.test", "signals@gw.test", sealed, "Tue, 24 Nov 2026 23:00:00 +0000",
                           "abc@relay.test");
  EXPECT_NE(mail.find("Content-Type: application/vnd.mobix.signal\r\n"), std::string::npos);
  auto back = extract_from_mail(mail, kMaxSealedSize);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sealed);
  EXPECT_EQ(opened(open(*back, Keyring{{1, key_of(7)}})).msisdn, sample().msisdn);
}

TEST(SignalMail, SurvivesWhatAnMtaDoes) {
  // Received: headers on top, folded Content-Type with a parameter, LF line ends, the base64
  // split differently: still the same signal.
  std::vector<std::uint8_t> sealed(81);
  for (std::size_t i = 0; i < sealed.size(); ++i) sealed[i] = static_cast<std::uint8_t>(i * 3 + 1);
  auto mail = compose_mail("a@b", "c@d", sealed, "x", "y@z");
  auto body = mail.substr(mail.find("\r\n\r\n") + 4);
  std::string b64;
  for (char c : body)
    if (c != '\r' && c != '\n') b64 += c;
  std::string relayed =
      "Received: from relay by mx; Tue, 24 Nov 2026\n\tfolded\nCONTENT-type:\n application/VND.mobix.signal;"
      " charset=binary\ncontent-transfer-encoding: BASE64\n\n" +
      b64.substr(0, 10) + "\n" + b64.substr(10) + "\n";
  auto back = extract_from_mail(relayed, kMaxSealedSize);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, sealed);
}

TEST(SignalMail, RefusesOtherMail) {
  EXPECT_FALSE(extract_from_mail("Subject: hi\r\n\r\nhello\r\n", kMaxSealedSize));  // no type
  EXPECT_FALSE(extract_from_mail(
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n", kMaxSealedSize));
  EXPECT_FALSE(extract_from_mail("Content-Type: application/vnd.mobix.signal\r\n\r\nAAAA\r\n",
                                 kMaxSealedSize));  // not base64-encoded
  const std::string head =
      "Content-Type: application/vnd.mobix.signal\r\nContent-Transfer-Encoding: base64\r\n";
  EXPECT_FALSE(extract_from_mail(head + "\r\nAA*A\r\n", kMaxSealedSize));                  // not base64
  EXPECT_FALSE(extract_from_mail(head + "\r\nAAA\r\n", kMaxSealedSize));                   // truncated
  EXPECT_FALSE(extract_from_mail(head + "\r\n\r\n", kMaxSealedSize));                      // empty
  EXPECT_FALSE(extract_from_mail(head, kMaxSealedSize));                                   // no body
  EXPECT_FALSE(extract_from_mail(head + "\r\n" + std::string(400, 'A'), kMaxSealedSize));  // too big
  auto ok = extract_from_mail(head + "\r\nAAAA\r\n", kMaxSealedSize);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 3u);
}
