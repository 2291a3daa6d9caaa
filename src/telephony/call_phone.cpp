// The device's own phone (seed 003's DECT telephone; today a SIP phone such as baresip) behind its
// base station. It registers with its proxy and calls through it; its leg is keyed with SDES
// (RFC 4568) over the access network, and the proxy re-keys its media into the Kerberos-keyed leg
// between the proxies (a back-to-back user agent). The phone is identified as the access network
// identifies everything here: its address is in the base stations' ranges, and it registered for a
// device this mobility manager represents (see telephony.md for what that trusts).
#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "telephony/call_agent.hpp"

namespace mobix::telephony {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::uint32_t kMaxRegistration = 3600;

std::string random_key() {
  std::string key(media::SrtpStream::kKeyLength, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size()));
  return key;
}

}  // namespace

void CallAgent::on_register(const sip::Message& m, const SipPeer& from) {
  auto refuse = [&](int code, const char* reason, const std::string& outcome, const std::string& detail) {
    count("mobix_mm_sip_requests_total", outcome);
    if (log_limit_.allow("register_" + outcome) >= 0)
      spdlog::warn("mobility_manager: REGISTER from {} for {} refused with {}: {} ({})", from.host(),
                   m.to_user(), code, outcome, detail);
    send(m.response(code, reason, new_token(4)), from);
  };
  if (!in_ranges(cfg_.base_stations, from.address.address()))
    return refuse(403, "Forbidden", "not_a_base_station",
                  "phones register only from the base stations' ranges");
  auto d = hooks_.represented(m.to_user());
  if (!d) return refuse(404, "Not Found", "not_represented", m.to_user() + " is not represented here");
  auto lifetime = std::min(m.expires().value_or(kMaxRegistration), kMaxRegistration);
  // Over TCP the phone is called on this connection: it must refresh before the connection idles out.
  if (from.stream) lifetime = std::min(lifetime, cfg_.sip_tcp_idle_seconds * 9 / 10);
  if (lifetime == 0) {
    d->phone.reset();
    count("mobix_mm_sip_requests_total", "unregistered");
    spdlog::info("mobility_manager: the phone of {} unregistered", d->code);
    return send(m.response(200, "OK", new_token(4)), from);
  }
  bool fresh = !d->phone || *d->phone != from;
  d->phone = from;
  d->phone_until = unix_now() + lifetime;
  count("mobix_mm_sip_requests_total", "registered");
  if (fresh)
    spdlog::info("mobility_manager: the phone of {} registered from {}:{} over {}", d->code, from.host(),
                 from.address.port(), from.transport());
  send(m.response(200, "OK", new_token(4),
                  {"Contact: <" + m.contact_uri() + ">;expires=" + std::to_string(lifetime)}),
       from);
}

std::shared_ptr<DeviceProxy> CallAgent::phone_of(const sip::Message& m, const SipPeer& from) const {
  auto d = hooks_.represented(m.from_user());
  if (!d || !d->phone || *d->phone != from || d->phone_until <= unix_now()) return nullptr;
  return d;
}

bool CallAgent::open_phone_media(Call& c, const sip::AudioOffer& offer) {
  if (!offer.sdes || !media_towards(c, offer)) return false;
  // SDES: each side sends with the key it announced (RFC 4568 6.1).
  if (!c.sdes) c.sdes = sip::SdesKey{offer.sdes->tag, random_key()};
  c.send = std::make_unique<media::SrtpStream>(media::SrtpStream::Direction::outbound, c.sdes->key_and_salt);
  c.recv =
      std::make_unique<media::SrtpStream>(media::SrtpStream::Direction::inbound, offer.sdes->key_and_salt);
  return true;
}

void CallAgent::on_phone_invite(const sip::Message& m, const SipPeer& from, std::shared_ptr<DeviceProxy> d) {
  if (!admit(m, from)) return;
  auto offer = sip::parse_sdp(m.body());
  auto c = std::make_shared<Call>(io_.get_executor());
  if (!offer || !offer->savp || !offer->pcmu || !offer->sdes || !open_phone_media(*c, *offer))
    return refuse_invite(m, from, 488, "Not Acceptable Here", "bad_offer",
                         "a phone must offer RTP/SAVP PCMU with an AES_CM_128_HMAC_SHA1_80 key");
  c->side = CallSide::phone;
  c->call_id = m.call_id();
  c->local_tag = new_token(6);
  c->remote_tag = m.from_tag();
  c->device = d->code;
  c->peer_device = m.request_user();
  c->from_header = m.from_header();
  c->to_header = m.to_header() + ";tag=" + c->local_tag;
  c->signalling = from;
  c->remote_target = m.contact_uri();
  c->started = unix_now();
  c->invite = m;
  c->last_response = m.response(100, "Trying", "");
  calls_[c->call_id + "/" + c->local_tag] = c;
  invites_[c->call_id + "/" + c->remote_tag] = c;
  count("mobix_mm_sip_requests_total", "phone_call");
  spdlog::info("mobility_manager: the phone of {} calls {}", d->code, c->peer_device);
  send(c->last_response, from);
  asio::co_spawn(io_, place_for_phone(c, d), asio::detached);
}

bool CallAgent::final_answer_pending(const Call& c) {
  // A phone's INVITE waits for the network leg; a network INVITE waits while its phone rings.
  if (c.side == CallSide::phone) return !c.uac && c.state == CallState::inviting;
  return c.side == CallSide::callee && !c.answer.empty();
}

void CallAgent::on_cancel(const sip::Message& m, const SipPeer& from) {
  // RFC 3261 9.2: the CANCEL matches the INVITE's server transaction (Call-ID, From tag, CSeq); it is
  // answered 200 in any case, and a pending INVITE is answered 487.
  auto it = invites_.find(m.call_id() + "/" + m.from_tag());
  if (it == invites_.end() || (it->second->invite && it->second->invite->cseq_number() != m.cseq_number())) {
    count("mobix_mm_sip_requests_total", "no_transaction");
    if (log_limit_.allow("cancel_no_transaction") >= 0)
      spdlog::info("mobility_manager: CANCEL from {} for no INVITE here answered 481", from.host());
    return send(m.response(481, "Call/Transaction Does Not Exist", new_token(4)), from);
  }
  auto c = it->second;
  send(m.response(200, "OK", c->local_tag), from);
  if (!final_answer_pending(*c)) return;  // answered already: the CANCEL has no effect
  count("mobix_mm_sip_requests_total", "cancelled");
  spdlog::info("mobility_manager: call {} for {} cancelled by its caller before the answer", c->call_id,
               c->side == CallSide::phone ? c->peer_device : c->device);
  c->cancelled = true;
  c->answer.clear();
  c->state = CallState::ending;
  c->last_response = c->invite->response(487, "Request Terminated", c->local_tag);
  send(c->last_response, c->signalling);
  if (auto pending = c->partner.lock()) {  // the INVITE this one caused is cancelled in turn
    pending->cancel_requested = true;
    pending->wake.cancel();
  }
}

asio::awaitable<void> CallAgent::place_for_phone(std::shared_ptr<Call> phone_leg,
                                                 std::shared_ptr<DeviceProxy> d) {
  auto r = co_await dial(d, phone_leg->peer_device, cfg_.max_call_seconds, phone_leg);
  if (r.status != 200 && phone_leg->state != CallState::ended) {
    // The network leg failed before the phone was answered: tell the phone why (RFC 3261 21).
    auto [code, reason] = r.status == 404   ? std::pair{404, "Not Found"}
                          : r.status == 504 ? std::pair{408, "Request Timeout"}
                          : r.status == 503 ? std::pair{503, "Service Unavailable"}
                                            : std::pair{480, "Temporarily Unavailable"};
    if (phone_leg->state == CallState::inviting) {
      phone_leg->last_response = phone_leg->invite->response(code, reason, phone_leg->local_tag);
      send(phone_leg->last_response, phone_leg->signalling);
    }
  }
  finish(phone_leg);
}

asio::awaitable<void> CallAgent::ring_phone(std::shared_ptr<Call> network_leg,
                                            std::shared_ptr<DeviceProxy> d) {
  auto c = std::make_shared<Call>(io_.get_executor());
  c->side = CallSide::phone;
  c->uac = true;
  c->call_id = new_token(12);
  c->local_tag = new_token(6);
  c->device = d->code;
  c->peer_device = network_leg->peer_device;
  c->from_header = "<sip:" + network_leg->peer_device + "@" + realm_ + ">;tag=" + c->local_tag;
  c->to_header = "<sip:" + d->code + "@" + realm_ + ">";
  c->signalling = *d->phone;
  c->remote_target = "sip:" + d->code + "@" + d->phone->host() + ":" +
                     std::to_string(d->phone->address.port()) + d->phone->uri_transport();
  c->started = unix_now();
  c->sdes = sip::SdesKey{1, random_key()};
  auto ec = open_rtp(*c);
  calls_[c->call_id + "/" + c->local_tag] = c;
  auto local = local_endpoint();
  auto branch = prepare_cancel(*c, c->remote_target);
  network_leg->partner = c;  // the caller's CANCEL cancels the phone's ringing
  auto invite =
      sip::build_request("INVITE", c->remote_target,
                         {request_headers(*c, "INVITE", 1, branch), contact(c->peer_device, c->signalling)},
                         sip::build_sdp(local.host, ec ? 0 : c->rtp.local_endpoint().port(),
                                        static_cast<std::uint64_t>(c->started), c->sdes));
  // (Not a conditional expression around co_await: GCC 12 mishandles the temporary's lifetime.)
  std::optional<sip::Message> answer;
  if (!ec) answer = co_await transact(*c, invite, "INVITE");
  std::optional<sip::AudioOffer> sdp;
  if (answer) {
    c->remote_tag = answer->to_tag();
    c->to_header = answer->to_header();
    if (!answer->contact_uri().empty()) c->remote_target = answer->contact_uri();
    c->ack = sip::build_request("ACK", c->remote_target, {request_headers(*c, "ACK", 1, new_token(8))});
    send(c->ack, c->signalling);
    if (answer->status() / 100 == 2) sdp = sip::parse_sdp(answer->body());
  }
  if (network_leg->cancelled) {  // the caller gave up; answered 487 already (on_cancel)
    if (answer && answer->status() / 100 == 2) co_await hang_up(*c);
    finish(c);
    finish(network_leg);
    co_return;
  }
  if (!sdp || !open_phone_media(*c, *sdp)) {  // no answer, a refusal, or media we cannot key
    if (answer && answer->status() / 100 == 2) co_await hang_up(*c);
    count("mobix_mm_sip_requests_total", "phone_unavailable");
    if (log_limit_.allow("phone_unavailable") >= 0)
      spdlog::warn("mobility_manager: call {} to {}: the phone did not answer ({})", network_leg->call_id,
                   d->code, answer ? std::to_string(answer->status()) : "no answer");
    network_leg->last_response =
        network_leg->invite->response(480, "Temporarily Unavailable", network_leg->local_tag);
    send(network_leg->last_response, network_leg->signalling);
    finish(c);
    finish(network_leg);
    co_return;
  }
  network_leg->last_response = std::move(network_leg->answer);
  send(network_leg->last_response, network_leg->signalling);
  if (co_await await_ack(*network_leg)) {
    co_await bridge(network_leg, c);
    if (!network_leg->hung_up && !stopping_) co_await hang_up(*network_leg);
  }
  if (!c->hung_up && !stopping_) co_await hang_up(*c);
  finish(c);
  finish(network_leg);
}

asio::awaitable<void> CallAgent::bridge(std::shared_ptr<Call> a, std::shared_ptr<Call> b) {
  a->partner = b;
  b->partner = a;
  auto since = std::chrono::steady_clock::now();
  for (auto& leg : {a, b}) {
    leg->state = CallState::talking;
    leg->talking_since = since;
    asio::co_spawn(io_, receive_media(leg), asio::detached);
  }
  auto limit = since + std::chrono::seconds(cfg_.max_call_seconds);
  while (!a->hung_up && !b->hung_up && !stopping_ && std::chrono::steady_clock::now() < limit) {
    // A BYE on either leg sets hung_up; repeated 200 OKs were acknowledged as they came (on_message).
    for (auto& leg : {a, b}) leg->inbox.clear();
    co_await await_message(*a, std::chrono::seconds(1));  // a BYE on either leg cancels a's wait
  }
  a->state = b->state = CallState::ending;
}

}  // namespace mobix::telephony
