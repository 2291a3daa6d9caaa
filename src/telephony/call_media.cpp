// The caller's side of a secure call and the media of both sides (see call_agent.hpp).
#include <cmath>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"
#include "media/rtp.hpp"
#include "telephony/call_agent.hpp"

namespace mobix::telephony {

namespace asio = boost::asio;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using udp = asio::ip::udp;

namespace {

constexpr milliseconds kPacketTime{20};  // a=ptime:20, 160 samples of PCMU at 8 kHz
constexpr std::size_t kSamples = 160;

/// G.711 mu-law of one 16-bit sample (ITU-T G.711, the segment and quantisation steps).
std::uint8_t mu_law(std::int16_t pcm) {
  constexpr int kBias = 0x84, kClip = 32635;
  int sign = pcm < 0 ? 0x80 : 0;
  int v = std::min(std::abs(static_cast<int>(pcm)), kClip) + kBias;
  int exponent = 7;
  for (int mask = 0x4000; (v & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  int mantissa = (v >> (exponent + 3)) & 0x0f;
  return static_cast<std::uint8_t>(~(sign | exponent << 4 | mantissa));
}

/// The simulated device's speech: 20 ms of a 440 Hz tone starting at sample `at`.
std::string tone(std::uint32_t at) {
  std::string out(kSamples, '\0');
  for (std::size_t i = 0; i < kSamples; ++i) {
    double t = static_cast<double>(at + i) / 8000.0;
    out[i] = static_cast<char>(mu_law(static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * 440 * t))));
  }
  return out;
}

}  // namespace

asio::awaitable<CallAgent::DialResult> CallAgent::dial(std::shared_ptr<DeviceProxy> caller,
                                                       std::string callee, std::uint32_t talk_seconds,
                                                       std::shared_ptr<Call> phone_leg) {
  auto fail = [&](int status, const std::string& outcome, const std::string& detail) {
    count("mobix_mm_calls_total", outcome);
    if (log_limit_.allow("call_" + outcome) >= 0)
      spdlog::warn("mobility_manager: call from {} to {} failed: {} ({})", caller->code, callee, outcome,
                   detail);
    return DialResult{status, json{{"error", outcome}, {"detail", detail}}};
  };
  udp::endpoint target;
  {
    Endpoint to = hooks_.represented(callee) ? local_endpoint() : cfg_.sip_peer.value_or(Endpoint{});
    boost::system::error_code ec;
    auto address = asio::ip::make_address(to.host, ec);
    if (to.port == 0 || ec) co_return fail(404, "not_represented", callee + " is not represented here");
    target = udp::endpoint(address, to.port);
  }
  if (calls_.size() >= cfg_.max_calls)
    co_return fail(503, "too_many_calls", "calls in progress at the limit");
  // The service ticket for the callee's principal, with the caller's TGT (blocks on the KDC).
  auto creds = caller->tickets;
  auto principal = callee + "@" + realm_;
  struct Ticket {
    std::unique_ptr<krb::CallInitiator> initiator;
    std::string token, error;
  };
  auto work = [creds, principal]() -> asio::awaitable<Ticket> {
    Ticket t;
    try {
      t.initiator = std::make_unique<krb::CallInitiator>(*creds, principal);
      t.token = t.initiator->first_token();
    } catch (const krb::KerberosError& e) {
      t.error = e.what();
    }
    co_return t;
  };
  Ticket t = co_await asio::co_spawn(pool_, work, asio::use_awaitable);
  if (!t.error.empty()) co_return fail(502, "no_ticket", t.error);
  if (phone_leg && phone_leg->cancelled) co_return fail(487, "cancelled", "the caller's phone gave up");

  auto c = std::make_shared<Call>(io_.get_executor());
  c->side = CallSide::caller;
  c->uac = true;
  c->call_id = new_token(12);
  c->local_tag = new_token(6);
  c->device = caller->code;
  c->peer_device = callee;
  c->from_header = "<sip:" + caller->code + "@" + realm_ + ">;tag=" + c->local_tag;
  c->to_header = "<sip:" + callee + "@" + realm_ + ">";
  c->signalling = SipPeer{target, nullptr};
  c->started = unix_now();
  if (auto ec = open_rtp(*c)) co_return fail(500, "media_failed", ec.message());
  auto key = c->call_id + "/" + c->local_tag;
  calls_[key] = c;
  auto local = local_endpoint();
  auto sdp =
      sip::build_sdp(local.host, c->rtp.local_endpoint().port(), static_cast<std::uint64_t>(c->started));
  auto branch = prepare_cancel(*c, "sip:" + principal);
  if (phone_leg) phone_leg->partner = c;  // the phone's CANCEL cancels this INVITE
  auto invite = sip::build_request(
      "INVITE", "sip:" + principal,
      {request_headers(*c, "INVITE", 1, branch), "Contact: <sip:" + caller->code + "@" + local.str() + ">",
       "Authorization: Kerberos realm=\"" + realm_ + "\", targetname=\"" + principal + "\", gssapi-data=\"" +
           t.token + "\""},
      sdp);
  auto answer = co_await transact(*c, invite, "INVITE");
  auto end = [&](DialResult r) {
    finish(c);
    return r;
  };
  if (!answer) co_return end(fail(504, "no_answer", "no final answer to the INVITE"));
  c->remote_tag = answer->to_tag();
  c->to_header = answer->to_header();
  c->remote_target = answer->contact_uri();
  // The ACK: in the INVITE's transaction for a refusal (17.1.1.3), a new one for a 2xx (13.2.2.4).
  auto ack = sip::build_request("ACK", "sip:" + principal, {request_headers(*c, "ACK", 1, new_token(8))});
  send(ack, c->signalling);
  c->ack = ack;
  if (c->cancel_requested && answer->status() >= 300)
    co_return end(fail(487, "cancelled", "the caller's phone gave up while the callee rang"));
  if (answer->status() >= 300)
    co_return end(fail(502, "refused", std::to_string(answer->status()) + " from the callee's proxy"));
  auto context = t.initiator->finish(answer->rspauth());

  if (!context) {  // the callee did not prove it holds the callee's key
    co_await hang_up(*c);
    co_return end(fail(502, "callee_not_authenticated", "no valid Kerberos AP-REP in the 200 OK"));
  }
  if (!open_media(*c, answer->body(), *context)) {
    co_await hang_up(*c);
    co_return end(fail(502, "bad_answer", "no RTP/SAVP audio stream with PCMU in the answer"));
  }
  if (phone_leg && phone_leg->cancelled) {  // answered as the CANCEL crossed it: end it (RFC 3261 9.1)
    co_await hang_up(*c);
    co_return end(fail(487, "cancelled", "the caller's phone gave up as the callee answered"));
  }
  if (phone_leg) {  // the caller's phone gets the answer, then the two legs are bridged
    phone_leg->last_response =
        phone_leg->invite->response(200, "OK", phone_leg->local_tag, {contact(callee, phone_leg->signalling)},
                                    sip::build_sdp(local.host, phone_leg->rtp.local_endpoint().port(),
                                                   static_cast<std::uint64_t>(c->started), phone_leg->sdes));
    send(phone_leg->last_response, phone_leg->signalling);
    bool acknowledged = co_await await_ack(*phone_leg);
    // A BYE before the ACK (the ACK lost over UDP) still proves the phone had the answer: it hung up.
    if (!acknowledged && !phone_leg->hung_up) {
      co_await hang_up(*c);
      co_return end(fail(502, "phone_gone", "the caller's phone did not acknowledge the answer"));
    }
    if (acknowledged) co_await bridge(c, phone_leg);
    if (!phone_leg->hung_up && !stopping_) co_await hang_up(*phone_leg);
  } else {
    co_await talk(c, seconds(std::min(talk_seconds, cfg_.max_call_seconds)));
  }
  if (!c->hung_up && !stopping_) co_await hang_up(*c);
  count("mobix_mm_calls_total", "completed");
  auto talked = c->talked_seconds();
  json body{{"call_id", c->call_id},
            {"callee", callee},
            {"seconds", talked},
            {"hung_up_by", c->hung_up ? "callee" : "caller"},
            {"srtp_sent", c->media.sent},
            {"srtp_received", c->media.received},
            {"srtp_refused", c->media.refused}};
  co_return end(DialResult{200, body});
}

asio::awaitable<void> CallAgent::talk(std::shared_ptr<Call> c, seconds limit) {
  c->state = CallState::talking;
  c->talking_since = std::chrono::steady_clock::now();
  RAND_bytes(reinterpret_cast<unsigned char*>(&c->ssrc), sizeof c->ssrc);
  asio::co_spawn(io_, receive_media(c), asio::detached);
  auto next = c->talking_since;
  std::uint16_t seq = 0;
  std::uint32_t samples = 0;
  while (!c->hung_up && !stopping_ && std::chrono::steady_clock::now() - c->talking_since < limit) {
    // Nothing in the inbox matters while talking: a BYE has set hung_up and a repeated 200 OK was
    // acknowledged again as it came in (on_message).
    c->inbox.clear();
    auto packet = media::build_rtp({0, seq == 0, seq, samples, c->ssrc}, tone(samples));
    if (c->send->protect(packet) == media::SrtpResult::ok) {
      boost::system::error_code ec;
      c->rtp.send_to(asio::buffer(packet), c->media_peer, 0, ec);
      if (!ec) {
        ++c->media.sent;
        media_counts_.sent->inc();
      }
    }
    ++seq;
    samples += kSamples;
    next += kPacketTime;
    c->wake.expires_at(next);
    co_await c->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  c->state = CallState::ending;
}

asio::awaitable<void> CallAgent::receive_media(std::shared_ptr<Call> c) {
  std::string buf(2048, '\0');
  for (;;) {
    udp::endpoint from;
    auto [ec, n] =
        co_await c->rtp.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !c->rtp.is_open()) co_return;
    if (ec) continue;
    if (from != c->media_peer) {  // only the negotiated peer's packets (the SDP's address and port)
      ++c->media.refused;
      media_counts_.foreign_source->inc();
      if (log_limit_.allow("srtp_foreign_source") >= 0)
        spdlog::warn(
            "mobility_manager: call {}: a media packet from {}:{} refused: foreign_source (not the "
            "address the SDP named)",
            c->call_id, from.address().to_string(), from.port());
      continue;
    }
    std::string packet = buf.substr(0, n);
    auto r = c->recv->unprotect(packet);
    if (r == media::SrtpResult::ok && media::parse_rtp(packet)) {
      ++c->media.received;
      media_counts_.received->inc();
      // A bridged call: what one leg's key opened, the other leg's key protects (the proxy re-keys
      // between the phone's SDES leg and the Kerberos-keyed leg).
      auto partner = c->partner.lock();
      if (partner && partner->send && partner->state == CallState::talking &&
          partner->send->protect(packet) == media::SrtpResult::ok) {
        boost::system::error_code sent;
        partner->rtp.send_to(asio::buffer(packet), partner->media_peer, 0, sent);
        if (!sent) {
          ++partner->media.sent;
          media_counts_.sent->inc();
        }
      }
      continue;
    }
    ++c->media.refused;
    auto why = r == media::SrtpResult::ok ? media::SrtpResult::malformed : r;  // authentic, but no RTP header
    media_counts_.refused(why).inc();
    if (log_limit_.allow(std::string("srtp_") + media::to_string(why)) >= 0)
      spdlog::warn("mobility_manager: call {}: an SRTP packet from {} refused: {}", c->call_id,
                   from.address().to_string(), media::to_string(why));
  }
}

}  // namespace mobix::telephony
