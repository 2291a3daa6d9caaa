// Seed 003's secure calls: SIP messages (libosip2), the SDP the proxies exchange, RTP headers and
// SRTP (libsrtp2) as the call's media uses them.
#include <gtest/gtest.h>

#include "codec/sip/framing.hpp"
#include "codec/sip/sip.hpp"
#include "media/rtp.hpp"
#include "media/srtp_stream.hpp"

using namespace mobix;

namespace {

const std::string kInvite =
    "INVITE sip:IPUI-B@EXAMPLE.NET SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-0\r\n"
    "From: <sip:IPUI-A@EXAMPLE.NET>;tag=a1\r\n"
    "To: <sip:IPUI-B@EXAMPLE.NET>\r\n"
    "Call-ID: c-77@mm\r\n"
    "CSeq: 12 INVITE\r\n"
    "Authorization: Kerberos realm=\"EXAMPLE.NET\", targetname=\"IPUI-B@EXAMPLE.NET\", "
    "gssapi-data=\"YIIB+/0=\"\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 10\r\n\r\nv=0\r\ns=x\r\n";

}  // namespace

TEST(Sip, ParsesARequestAndItsKerberosCredentials) {
  auto m = sip::Message::parse(kInvite);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->is_request());
  EXPECT_EQ(m->method(), "INVITE");
  EXPECT_EQ(m->request_user(), "IPUI-B");
  EXPECT_EQ(m->from_user(), "IPUI-A");
  EXPECT_EQ(m->to_user(), "IPUI-B");
  EXPECT_EQ(m->from_tag(), "a1");
  EXPECT_EQ(m->to_tag(), "");
  EXPECT_EQ(m->call_id(), "c-77@mm");
  EXPECT_EQ(m->cseq_number(), 12u);
  EXPECT_EQ(m->top_branch(), "z9hG4bK-1");
  EXPECT_EQ(m->body(), "v=0\r\ns=x\r\n");
  auto k = m->kerberos();
  ASSERT_TRUE(k);
  EXPECT_EQ(k->realm, "EXAMPLE.NET");
  EXPECT_EQ(k->targetname, "IPUI-B@EXAMPLE.NET");
  EXPECT_EQ(k->gssapi_data, "YIIB+/0=");
}

TEST(Sip, ARequestWithoutKerberosHasNoCredentials) {
  auto text = kInvite;
  text.replace(text.find("Authorization: Kerberos"), 13, "Authorization: Digest username=\"x\",");
  auto m = sip::Message::parse(text);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->kerberos());
}

TEST(Sip, ResponseCopiesTheTransactionAndAddsTheTag) {
  auto m = sip::Message::parse(kInvite);
  ASSERT_TRUE(m);
  auto text = m->response(200, "OK", "b2", {"Authentication-Info: Kerberos rspauth=\"b3V0\""}, "v=0\r\n");
  auto r = sip::Message::parse(text);
  ASSERT_TRUE(r) << text;
  EXPECT_FALSE(r->is_request());
  EXPECT_EQ(r->status(), 200);
  EXPECT_EQ(r->top_branch(), "z9hG4bK-1");
  EXPECT_EQ(r->to_tag(), "b2");
  EXPECT_EQ(r->from_tag(), "a1");
  EXPECT_EQ(r->call_id(), "c-77@mm");
  EXPECT_EQ(r->cseq_method(), "INVITE");
  EXPECT_EQ(r->rspauth(), "b3V0");
  EXPECT_EQ(r->body(), "v=0\r\n");
  EXPECT_NE(text.find("10.0.0.1:5060"), std::string::npos);  // every Via, in order
}

TEST(Sip, RefusesWhatLacksTheMandatoryHeaders) {
  EXPECT_FALSE(sip::Message::parse(""));
  EXPECT_FALSE(sip::Message::parse("INVITE sip:x@y SIP/2.0\r\nContent-Length: 0\r\n\r\n"));
  auto text = kInvite;
  text.erase(text.find("Call-ID:"), std::string("Call-ID: c-77@mm\r\n").size());
  EXPECT_FALSE(sip::Message::parse(text));
  EXPECT_FALSE(sip::Message::parse("not sip at all\r\n\r\n"));
}

TEST(Sip, SdpRoundTrip) {
  auto sdp = sip::build_sdp("127.0.0.1", 40000, 9);
  auto a = sip::parse_sdp(sdp);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address, "127.0.0.1");
  EXPECT_EQ(a->port, 40000);
  EXPECT_TRUE(a->savp);
  EXPECT_TRUE(a->pcmu);
  // An offer of plain RTP with another codec, the address at session level only.
  auto plain = sip::parse_sdp(
      "v=0\r\no=- 1 1 IN IP4 10.1.1.1\r\ns=-\r\nc=IN IP4 10.1.1.1\r\nt=0 0\r\n"
      "m=audio 5004 RTP/AVP 8\r\n");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->address, "10.1.1.1");
  EXPECT_FALSE(plain->savp);
  EXPECT_FALSE(plain->pcmu);
  EXPECT_FALSE(sip::parse_sdp("v=0\r\nm=audio 0 RTP/SAVP 0\r\n"));
  EXPECT_FALSE(sip::parse_sdp("garbage"));
}

TEST(Sip, SdesKeysAsBaresipWritesThem) {
  // An offer baresip 1.0.0 sent (its srtp module, RFC 4568 SDES).
  auto a = sip::parse_sdp(
      "v=0\r\no=- 2651901345 930623850 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
      "t=0 0\r\nm=audio 12428 RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:CxO++++KWao3LhSXZM/vMkBq0s/Jb6iS27MFrkcI\r\n");
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->sdes);
  EXPECT_EQ(a->sdes->tag, 1u);
  ASSERT_EQ(a->sdes->key_and_salt.size(), 30u);
  EXPECT_EQ(static_cast<unsigned char>(a->sdes->key_and_salt[0]), 0x0b);
  // Our answer carries our key under the offer's tag, and reads back the same.
  sip::SdesKey mine{1, std::string(30, '\x5a')};
  auto back = sip::parse_sdp(sip::build_sdp("127.0.0.1", 4000, 1, mine));
  ASSERT_TRUE(back && back->sdes);
  EXPECT_EQ(back->sdes->key_and_salt, mine.key_and_salt);
  // Another suite, a short key, a lifetime and MKI suffix.
  EXPECT_FALSE(sip::parse_sdes_suite_and_key(
      "AES_CM_128_HMAC_SHA1_32 inline:CxO++++KWao3LhSXZM/vMkBq0s/Jb6iS27MFrkcI"));
  EXPECT_FALSE(sip::parse_sdes_suite_and_key("AES_CM_128_HMAC_SHA1_80 inline:CxO++++KWao3"));
  EXPECT_TRUE(sip::parse_sdes_suite_and_key(
      "AES_CM_128_HMAC_SHA1_80 inline:CxO++++KWao3LhSXZM/vMkBq0s/Jb6iS27MFrkcI|2^31|1:1"));
  EXPECT_FALSE(sip::parse_sdp(sip::build_sdp("127.0.0.1", 4000, 1))->sdes);
}

TEST(Sip, RegisterContactAndExpires) {
  auto m = sip::Message::parse(
      "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bK-r1\r\n"
      "From: <sip:IPUI-B@127.0.0.1:5060>;tag=r\r\nTo: <sip:IPUI-B@127.0.0.1:5060>\r\nCall-ID: reg1\r\n"
      "CSeq: 3 REGISTER\r\nContact: <sip:IPUI-B-0x1@127.0.0.1:5072>;expires=3600\r\nExpires: 60\r\n"
      "Content-Length: 0\r\n\r\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->contact_uri(), "sip:IPUI-B-0x1@127.0.0.1:5072");
  EXPECT_EQ(m->expires(), 3600u);
  EXPECT_EQ(m->to_user(), "IPUI-B");
}

// RFC 3261 18.3: on a stream, Content-Length ends the message.
TEST(SipFraming, OneMessageThenTheNext) {
  auto two = kInvite + kInvite.substr(0, 30);
  auto f = sip::next_frame(two, 65535);
  EXPECT_EQ(f.status, sip::FrameStatus::message);
  EXPECT_EQ(f.length, kInvite.size());
  EXPECT_EQ(sip::next_frame(std::string_view(two).substr(f.length), 65535).status,
            sip::FrameStatus::incomplete);
  // The body not all there yet.
  EXPECT_EQ(sip::next_frame(std::string_view(kInvite).substr(0, kInvite.size() - 1), 65535).status,
            sip::FrameStatus::incomplete);
}

TEST(SipFraming, CompactFormAndKeepAlives) {
  EXPECT_EQ(sip::next_frame("OPTIONS sip:x SIP/2.0\r\nl: 2\r\n\r\nab", 100).length, 33u);
  EXPECT_EQ(sip::next_frame("\r\n\r\nOPTIONS", 100).status, sip::FrameStatus::ping);  // RFC 5626 3.5.1
  EXPECT_EQ(sip::next_frame("\r\nOPTIONS", 100).status, sip::FrameStatus::skip);
  EXPECT_EQ(sip::next_frame("\r\n", 100).status, sip::FrameStatus::incomplete);  // a ping, maybe
}

TEST(SipFraming, RefusesWhatCannotBeFramed) {
  EXPECT_EQ(sip::next_frame("OPTIONS sip:x SIP/2.0\r\nVia: x\r\n\r\n", 100).status,
            sip::FrameStatus::bad_length);  // mandatory on a stream
  EXPECT_EQ(sip::next_frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 1x\r\n\r\n", 100).status,
            sip::FrameStatus::bad_length);
  EXPECT_EQ(sip::next_frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nab", 100).status,
            sip::FrameStatus::bad_length);  // two that differ
  EXPECT_EQ(
      sip::next_frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 99999999999999999999\r\n\r\n", 100).status,
      sip::FrameStatus::bad_length);
  EXPECT_EQ(sip::next_frame("OPTIONS sip:x SIP/2.0\r\nContent-Length: 80\r\n\r\n", 100).status,
            sip::FrameStatus::too_large);
  EXPECT_EQ(sip::next_frame(std::string(101, 'A'), 100).status,
            sip::FrameStatus::too_large);  // no end of headers
}

TEST(Rtp, BuildsAndParsesTheFixedHeader) {
  media::RtpHeader h{0, true, 65535, 0xdeadbeef, 0x01020304};
  auto p = media::build_rtp(h, "abc");
  ASSERT_EQ(p.size(), 15u);
  auto back = media::parse_rtp(p);
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->header.marker);
  EXPECT_EQ(back->header.sequence, 65535);
  EXPECT_EQ(back->header.timestamp, 0xdeadbeefu);
  EXPECT_EQ(back->header.ssrc, 0x01020304u);
  EXPECT_EQ(back->payload, "abc");
  EXPECT_FALSE(media::parse_rtp(p.substr(0, 11)));
  auto csrc = p;
  csrc[0] = static_cast<char>(0x8f);  // 15 CSRCs announced, none there
  EXPECT_FALSE(media::parse_rtp(csrc));
  auto padded = p;
  padded[0] = static_cast<char>(0xa0);
  padded.back() = 9;  // more padding than payload and header
  EXPECT_FALSE(media::parse_rtp(padded));
}

TEST(Srtp, ProtectsAndUnprotectsWithTheSameKey) {
  std::string key(media::SrtpStream::kKeyLength, '\x11');
  media::SrtpStream out(media::SrtpStream::Direction::outbound, key);
  media::SrtpStream in(media::SrtpStream::Direction::inbound, key);
  std::string payload(160, '\x7f');
  for (std::uint16_t seq = 1; seq <= 3; ++seq) {
    auto packet = media::build_rtp({0, false, seq, seq * 160u, 42}, payload);
    auto plain = packet;
    ASSERT_EQ(out.protect(packet), media::SrtpResult::ok);
    EXPECT_EQ(packet.size(), plain.size() + 10);                       // the 80-bit tag
    EXPECT_EQ(packet.find(payload.substr(0, 16)), std::string::npos);  // encrypted
    auto copy = packet;
    ASSERT_EQ(in.unprotect(packet), media::SrtpResult::ok);
    EXPECT_EQ(packet, plain);
    EXPECT_EQ(in.unprotect(copy), media::SrtpResult::replayed);  // RFC 3711 3.3.2
  }
}

TEST(Srtp, RefusesAnAlteredPacketAndAnotherKey) {
  std::string key(media::SrtpStream::kKeyLength, '\x22');
  media::SrtpStream out(media::SrtpStream::Direction::outbound, key);
  media::SrtpStream in(media::SrtpStream::Direction::inbound, key);
  media::SrtpStream stranger(media::SrtpStream::Direction::inbound, std::string(30, '\x23'));
  auto packet = media::build_rtp({0, false, 7, 1120, 9}, std::string(160, 'x'));
  ASSERT_EQ(out.protect(packet), media::SrtpResult::ok);
  auto altered = packet;
  altered[20] ^= 1;
  EXPECT_EQ(in.unprotect(altered), media::SrtpResult::auth_failed);
  auto other = packet;
  EXPECT_EQ(stranger.unprotect(other), media::SrtpResult::auth_failed);
  EXPECT_EQ(in.unprotect(packet), media::SrtpResult::ok);
  std::string tiny = "short";
  EXPECT_EQ(in.unprotect(tiny), media::SrtpResult::malformed);
  EXPECT_THROW(media::SrtpStream(media::SrtpStream::Direction::inbound, "short"), std::invalid_argument);
}
