#include "telephony/call_agent.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/hex.hpp"
#include "core/metrics.hpp"

namespace mobix::telephony {

namespace asio = boost::asio;
using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using udp = asio::ip::udp;

namespace {

// RFC 3261 17.1.1.2 and 17.1.2.2: retransmit from T1 (sip_t1_ms), doubling (capped at T2 but for
// INVITE), give up after 64*T1 (Timers B, F and H). Timer C: a phone may ring for three minutes.
constexpr milliseconds kT2{4000}, kRinging{180000};
// The keys of each direction (RFC 4402's PRF input; distinct labels keep the two streams apart).
constexpr const char* kCallerToCallee = "mobix srtp caller to callee";
constexpr const char* kCalleeToCaller = "mobix srtp callee to caller";

}  // namespace

const char* to_string(CallSide s) {
  switch (s) {
    case CallSide::caller:
      return "caller";
    case CallSide::callee:
      return "callee";
    case CallSide::phone:
      return "phone";
  }
  return "phone";
}

const char* to_string(CallState s) {
  switch (s) {
    case CallState::inviting:
      return "inviting";
    case CallState::answered:
      return "answered";
    case CallState::talking:
      return "talking";
    case CallState::ending:
      return "ending";
    case CallState::ended:
      return "ended";
  }
  return "ended";
}

CallAgent::CallAgent(asio::io_context& io, const MobilityManagerConfig& cfg, std::string realm,
                     asio::thread_pool& pool, std::shared_ptr<krb::KeyTable> keys, CallHooks hooks)
    : io_(io),
      cfg_(cfg),
      realm_(std::move(realm)),
      pool_(pool),
      hooks_(std::move(hooks)),
      acceptor_(std::make_unique<krb::CallAcceptor>(std::move(keys))),
      socket_(io),
      per_source_(cfg.sip_per_source_per_minute, cfg.sip_per_source_burst) {
  auto media = [](const char* outcome) {
    return &metrics().counter("mobix_mm_media_packets_total",
                              "SRTP packets of secure calls: sent, received, or why refused",
                              std::string("outcome=\"") + outcome + "\"");
  };
  media_counts_ = {media("sent"),      media("received"),    media("foreign_source"),
                   media("malformed"), media("auth_failed"), media("replayed")};
  // Read on the node's one I/O thread, where /metrics is rendered; zero once the agent is gone.
  metrics().gauge_family(
      "mobix_mm_call_legs", "Call legs in progress at the mobility manager, by side and state (seed 003)",
      [this, alive = std::weak_ptr<int>(alive_)] {
        std::map<std::string, double> by;
        for (auto side : {CallSide::caller, CallSide::callee, CallSide::phone})
          for (auto state : {CallState::inviting, CallState::answered, CallState::talking, CallState::ending})
            by[std::string("side=\"") + to_string(side) + "\",state=\"" + to_string(state) + "\""] = 0;
        if (!alive.expired())
          for (const auto& [key, c] : calls_)
            by[std::string("side=\"") + to_string(c->side) + "\",state=\"" + to_string(c->state) + "\""] += 1;
        return std::vector<std::pair<std::string, double>>(by.begin(), by.end());
      });
}

Counter& CallAgent::MediaCounters::refused(media::SrtpResult r) const {
  return r == media::SrtpResult::auth_failed ? *auth_failed
         : r == media::SrtpResult::replayed  ? *replayed
                                             : *malformed;
}

CallAgent::~CallAgent() = default;

void CallAgent::count(const std::string& name, const std::string& outcome) {
  static const std::map<std::string, std::string> help{
      {"mobix_mm_sip_requests_total", "SIP requests at the mobility manager's call listener, by outcome"},
      {"mobix_mm_calls_total", "Secure calls placed by represented devices, by outcome (seed 003)"},
      {"mobix_mm_sip_connections_total",
       "SIP over TCP connections at the call listener: accepted, or why closed"}};
  metrics().counter(name, help.at(name), "outcome=\"" + outcome + "\"").inc();
}

std::string CallAgent::new_token(std::size_t bytes) const {
  std::vector<std::uint8_t> raw(bytes);
  RAND_bytes(raw.data(), static_cast<int>(bytes));
  return encode_hex(raw);
}

std::string CallAgent::contact(const std::string& user, const SipPeer& to) const {
  if (to.stream && to.stream->secure() && tls_service_)
    return "Contact: <sip:" + user + "@" + tls_service_->local_endpoint().str() + ";transport=tls>";
  return "Contact: <sip:" + user + "@" + local_endpoint().str() + ">";
}

void CallAgent::on_message(std::string_view text, const SipPeer& from) {
  auto m = sip::Message::parse(text);
  if (!m) {  // no Via to answer: dropped (RFC 3261 16.3 / 18.3), counted and logged
    count("mobix_mm_sip_requests_total", "malformed");
    if (log_limit_.allow("malformed") >= 0)
      spdlog::warn("mobility_manager: a malformed SIP message from {} ({} bytes) dropped", from.host(),
                   text.size());
    return;
  }
  auto deliver = [&](const std::string& key) {
    auto it = calls_.find(key);
    if (it == calls_.end()) return false;
    it->second->inbox.push_back(*m);
    it->second->wake.cancel();
    return true;
  };
  if (!m->is_request()) {  // to the request's sender: our tag is From's
    auto key = m->call_id() + "/" + m->from_tag();
    // A 2xx to an INVITE this side acknowledged already: its ACK was lost. Each 2xx gets an ACK
    // (RFC 3261 13.2.2.4), whatever the call's coroutine is waiting for (a phone's own ACK, say).
    if (auto it = calls_.find(key); it != calls_.end() && !it->second->ack.empty() &&
                                    m->status() / 100 == 2 && m->cseq_method() == "INVITE") {
      count("mobix_mm_sip_requests_total", "ack_repeated");
      return send(it->second->ack, it->second->signalling);
    }
    if (!deliver(key)) count("mobix_mm_sip_requests_total", "stray_response");
    return;
  }
  auto method = m->method();
  auto dialog = m->call_id() + "/" + m->to_tag();
  if (method == "REGISTER") return on_register(*m, from);
  if (method == "INVITE" && m->to_tag().empty()) {
    // A device's own phone calls through its proxy without Kerberos (identity from the access network);
    // everyone else must show a ticket.
    if (auto d = m->kerberos() ? nullptr : phone_of(*m, from)) return on_phone_invite(*m, from, d);
    return on_invite(*m, from);
  }
  if (method == "ACK") {  // never answered (RFC 3261 17.2.1); an ACK of a refusal matches no call
    deliver(dialog);
    return;
  }
  if (method == "BYE") {
    auto it = calls_.find(dialog);
    if (it == calls_.end()) {
      count("mobix_mm_sip_requests_total", "no_dialog");
      if (log_limit_.allow("no_dialog") >= 0)
        spdlog::info("mobility_manager: BYE from {} for no call here answered 481", from.host());
      return send(m->response(481, "Call/Transaction Does Not Exist", ""), from);
    }
    send(m->response(200, "OK", ""), from);
    count("mobix_mm_sip_requests_total", "bye");
    it->second->hung_up = true;
    it->second->wake.cancel();
    if (auto partner = it->second->partner.lock()) partner->wake.cancel();
    return;
  }
  if (method == "CANCEL") return on_cancel(*m, from);
  if (method == "OPTIONS") {
    count("mobix_mm_sip_requests_total", "options");
    return send(m->response(200, "OK", new_token(4), {"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"}), from);
  }
  count("mobix_mm_sip_requests_total", "not_implemented");
  if (log_limit_.allow("not_implemented") >= 0)
    spdlog::info("mobility_manager: SIP {} from {} answered 501", method, from.host());
  send(m->response(501, "Not Implemented", new_token(4), {"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS"}), from);
}

void CallAgent::refuse_invite(const sip::Message& m, const SipPeer& from, int code, const std::string& reason,
                              const std::string& outcome, const std::string& detail,
                              const std::vector<std::string>& headers) {
  count("mobix_mm_sip_requests_total", outcome);
  if (log_limit_.allow("invite_" + outcome) >= 0)
    spdlog::warn("mobility_manager: INVITE from {} for {} refused with {}: {} ({})", from.host(),
                 m.request_user(), code, outcome, detail);
  send(m.response(code, reason, new_token(4), headers), from);
}

bool CallAgent::admit(const sip::Message& m, const SipPeer& from) {
  auto retransmitted = invites_.find(m.call_id() + "/" + m.from_tag());
  if (retransmitted != invites_.end()) {  // our answer was lost: the same answer again (17.2.1)
    count("mobix_mm_sip_requests_total", "retransmission");
    send(retransmitted->second->last_response, from);
    return false;
  }
  if (stopping_) {
    refuse_invite(m, from, 503, "Service Unavailable", "stopping", "stopping");
    return false;
  }
  if (!per_source_.take(from.host())) {
    refuse_invite(m, from, 503, "Service Unavailable", "rate_limited", "too many INVITEs from this address",
                  {"Retry-After: 10"});
    return false;
  }
  if (calls_.size() >= cfg_.max_calls) {
    refuse_invite(m, from, 503, "Service Unavailable", "too_many_calls",
                  std::to_string(calls_.size()) + " calls in progress", {"Retry-After: 10"});
    return false;
  }
  return true;
}

void CallAgent::on_invite(const sip::Message& m, const SipPeer& from) {
  if (!admit(m, from)) return;

  auto callee = m.request_user();
  auto device = hooks_.represented(callee);
  if (!device)
    return refuse_invite(m, from, 404, "Not Found", "not_represented", callee + " is not represented here");
  auto callee_principal = callee + "@" + realm_;
  auto creds = m.kerberos();
  if (!creds || creds->gssapi_data.empty())  // seed 003: only authenticated subscribers call
    return refuse_invite(
        m, from, 401, "Unauthorized", "unauthenticated", "no Kerberos AP-REQ",
        {"WWW-Authenticate: Kerberos realm=\"" + realm_ + "\", targetname=\"" + callee_principal + "\""});
  auto result = acceptor_->accept(creds->gssapi_data, callee_principal);
  if (auto* r = std::get_if<krb::CallAcceptor::Refused>(&result)) {
    if (r->why == krb::AcceptRefusal::wrong_service)  // only the callee's key is offered to the ticket
      return refuse_invite(m, from, 403, "Forbidden", "wrong_callee", r->detail);
    return refuse_invite(m, from, 403, "Forbidden",
                         r->why == krb::AcceptRefusal::malformed ? "bad_token" : krb::to_string(r->why),
                         r->detail);
  }
  auto& a = std::get<krb::CallAcceptor::Accepted>(result);
  if (a.callee != callee_principal)
    return refuse_invite(m, from, 403, "Forbidden", "wrong_callee", "the ticket is for " + a.callee);
  if (a.caller != m.from_user() + "@" + realm_)
    return refuse_invite(m, from, 403, "Forbidden", "caller_mismatch",
                         a.caller + " authenticated, From says " + m.from_user());
  auto c = std::make_shared<Call>(io_.get_executor());
  c->side = CallSide::callee;
  c->call_id = m.call_id();
  c->local_tag = new_token(6);
  c->remote_tag = m.from_tag();
  c->device = callee;
  c->peer_device = m.from_user();
  c->from_header = m.from_header();
  c->to_header = m.to_header() + ";tag=" + c->local_tag;
  c->signalling = from;
  c->remote_target = m.contact_uri();
  c->started = unix_now();
  if (!open_media(*c, m.body(), *a.context))
    return refuse_invite(m, from, 488, "Not Acceptable Here", "bad_offer",
                         "no RTP/SAVP audio stream with PCMU");
  auto local = local_endpoint();
  auto sdp =
      sip::build_sdp(local.host, c->rtp.local_endpoint().port(), static_cast<std::uint64_t>(c->started));
  c->last_response = m.response(200, "OK", c->local_tag,
                                {"Contact: <sip:" + callee + "@" + local.str() + ">",
                                 "Authentication-Info: Kerberos rspauth=\"" + a.reply_token + "\""},
                                sdp);
  c->state = CallState::answered;
  calls_[c->call_id + "/" + c->local_tag] = c;
  invites_[c->call_id + "/" + c->remote_tag] = c;
  count("mobix_mm_sip_requests_total", "answered");
  spdlog::info("mobility_manager: call {} from {} to {} answered (Kerberos-authenticated, SRTP keyed)",
               c->call_id, a.caller, callee);
  if (device->phone && device->phone_until > unix_now()) {  // the device's own phone answers: ring it first
    c->invite = m;
    c->answer = std::move(c->last_response);
    c->last_response = m.response(100, "Trying", "");
    send(c->last_response, from);
    asio::co_spawn(io_, ring_phone(c, device), asio::detached);
    return;
  }
  send(c->last_response, from);
  asio::co_spawn(io_, run_callee(c), asio::detached);
}

asio::awaitable<bool> CallAgent::await_message(Call& c, milliseconds budget) {
  if (c.inbox.empty() && !c.hung_up) {
    c.wake.expires_after(budget);
    co_await c.wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_return !c.inbox.empty();
}

asio::awaitable<bool> CallAgent::await_ack(Call& c) {
  // The 200 OK again until the ACK (RFC 3261 13.3.1.4), at most 64*T1.
  auto interval = t1();
  auto deadline = std::chrono::steady_clock::now() + 64 * t1();
  c.state = CallState::answered;
  while (c.state == CallState::answered && !c.hung_up && std::chrono::steady_clock::now() < deadline) {
    if (co_await await_message(c, interval)) {
      for (; !c.inbox.empty(); c.inbox.pop_front())
        if (c.inbox.front().is_request() && c.inbox.front().method() == "ACK") c.state = CallState::talking;
      continue;
    }
    if (c.hung_up) break;
    send(c.last_response, c.signalling);
    interval = std::min(interval * 2, std::max(kT2, t1()));
  }
  co_return c.state == CallState::talking;
}

asio::awaitable<void> CallAgent::run_callee(std::shared_ptr<Call> c) {
  co_await await_ack(*c);
  if (c->state == CallState::talking) {
    co_await talk(c, seconds(cfg_.max_call_seconds));
    if (!c->hung_up && !stopping_) co_await hang_up(*c);  // the longest call allowed: this side hangs up
  } else if (!c->hung_up) {
    count("mobix_mm_sip_requests_total", "no_ack");
    if (log_limit_.allow("no_ack") >= 0)
      spdlog::warn("mobility_manager: call {} to {}: no ACK for the 200 OK; ended", c->call_id, c->device);
  }
  finish(c);
}

std::string CallAgent::request_headers(const Call& c, const std::string& method, std::uint32_t cseq,
                                       const std::string& branch) const {
  auto local = local_endpoint();
  // In-dialog requests from the INVITE's recipient swap From and To (RFC 3261 12.2.1.1).
  bool caller = c.uac;
  return std::string("Via: SIP/2.0/") + c.signalling.transport() + " " + local.str() + ";branch=z9hG4bK" +
         branch + "\r\nFrom: " + (caller ? c.from_header : c.to_header) +
         "\r\nTo: " + (caller ? c.to_header : c.from_header) + "\r\nCall-ID: " + c.call_id +
         "\r\nCSeq: " + std::to_string(cseq) + " " + method;
}

std::string CallAgent::prepare_cancel(Call& c, const std::string& uri) const {
  // RFC 3261 9.1: the CANCEL repeats the INVITE's Request-URI, Via branch, From, To, Call-ID and
  // CSeq number (the INVITE's CSeq is 1).
  auto branch = new_token(8);
  c.cancel = sip::build_request("CANCEL", uri, {request_headers(c, "CANCEL", 1, branch)});
  return branch;
}

asio::awaitable<void> CallAgent::hang_up(Call& c) {
  auto target = c.remote_target.empty() ? "sip:" + c.peer_device + "@" + realm_ : c.remote_target;
  auto bye = sip::build_request("BYE", target, {request_headers(c, "BYE", c.next_cseq++, new_token(8))});
  co_await transact(c, bye, "BYE");
}

asio::awaitable<std::optional<sip::Message>> CallAgent::transact(Call& c, const std::string& request,
                                                                 const std::string& cseq_method) {
  auto interval = t1();
  auto deadline = std::chrono::steady_clock::now() + 64 * t1();
  bool provisional = false;
  send(request, c.signalling);
  // Over TCP nothing is retransmitted (RFC 3261 17.1.1.2); a closed connection is a transport error
  // and ends the transaction at once (18.4): a phone's connection gone means no phone to ring.
  auto gone = [&] { return c.signalling.stream && !c.signalling.stream->is_open(); };
  bool cancel_sent = false;
  while (std::chrono::steady_clock::now() < deadline && !stopping_ && !gone()) {
    // RFC 3261 9.1: a CANCEL only once the INVITE has a provisional answer; then the INVITE's final
    // answer (487, or a 200 that crossed it) ends the transaction as usual.
    if (c.cancel_requested && provisional && !c.cancel.empty() && !cancel_sent) {
      deadline = std::chrono::steady_clock::now() + 64 * t1();
      send(c.cancel, c.signalling);
      cancel_sent = true;
    }
    if (co_await await_message(c, interval)) {
      while (!c.inbox.empty()) {
        auto m = std::move(c.inbox.front());
        c.inbox.pop_front();
        if (m.is_request() || m.cseq_method() != cseq_method) continue;
        if (m.status() >= 200) co_return m;
        // 1xx: the INVITE arrived; stop retransmitting it (17.1.1.2). A phone may ring longer than
        // Timer B: wait up to Timer C's three minutes (16.6) for the answer.
        provisional = true;
        deadline = std::max(deadline, std::chrono::steady_clock::now() + kRinging);
      }
      continue;
    }
    if (c.cancel_requested && provisional) {  // woken to cancel (sent above), or the CANCEL's timer
      if (cancel_sent && !c.signalling.stream) send(c.cancel, c.signalling);
      continue;
    }
    if (!c.signalling.stream && (!provisional || cseq_method != "INVITE")) send(request, c.signalling);
    interval = cseq_method == "INVITE" ? interval * 2 : std::min(interval * 2, std::max(kT2, t1()));
  }
  co_return std::nullopt;
}

boost::system::error_code CallAgent::open_rtp(Call& c) {
  boost::system::error_code ec;
  if (c.rtp.is_open()) return ec;
  auto address = asio::ip::make_address(cfg_.sip_listen->host, ec);
  if (!ec) c.rtp.open(udp::v4(), ec);
  if (!ec) c.rtp.bind(udp::endpoint(address, 0), ec);
  return ec;
}

bool CallAgent::media_towards(Call& c, const sip::AudioOffer& offer) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address_v4(offer.address, ec);
  if (ec) return false;
  c.media_peer = udp::endpoint(address, offer.port);
  return !open_rtp(c);
}

bool CallAgent::open_media(Call& c, const std::string& remote_sdp, const krb::CallContext& keys) {
  auto offer = sip::parse_sdp(remote_sdp);
  if (!offer || !offer->savp || !offer->pcmu) return false;
  if (!media_towards(c, *offer)) return false;
  try {
    auto to_callee = keys.derive(kCallerToCallee, media::SrtpStream::kKeyLength);
    auto to_caller = keys.derive(kCalleeToCaller, media::SrtpStream::kKeyLength);
    bool caller = c.side == CallSide::caller;
    c.send = std::make_unique<media::SrtpStream>(media::SrtpStream::Direction::outbound,
                                                 caller ? to_callee : to_caller);
    c.recv = std::make_unique<media::SrtpStream>(media::SrtpStream::Direction::inbound,
                                                 caller ? to_caller : to_callee);
  } catch (const std::exception& e) {
    spdlog::error("mobility_manager: call {}: SRTP keys not derived: {}", c.call_id, e.what());
    return false;
  }
  return true;
}

void CallAgent::finish(std::shared_ptr<Call> c) {
  c->state = CallState::ended;
  boost::system::error_code ec;
  c->rtp.close(ec);
  // The SRTP contexts go now, not when the answer kept for retransmissions expires (Timer H, 32 s):
  // libsrtp2's NSS keys slow every other stream down while they exist (BENCHMARKS.md, call load).
  c->send.reset();
  c->recv.reset();
  calls_.erase(c->call_id + "/" + c->local_tag);
  if (!c->uac) {  // the answer stays for the INVITE's late retransmissions (Timer H, 64*T1)
    auto key = c->call_id + "/" + c->remote_tag;
    auto timer = std::make_shared<asio::steady_timer>(io_, 64 * t1());
    timer->async_wait(
        [this, timer, key, alive = std::weak_ptr<int>(alive_), call = std::weak_ptr<Call>(c)](auto) {
          if (alive.expired()) return;
          auto it = invites_.find(key);
          if (it != invites_.end() && it->second == call.lock()) invites_.erase(it);
        });
  }
  auto talked = c->talked_seconds();
  spdlog::info(
      "mobility_manager: call {} ({} side of {}) ended after {} s: {} SRTP packets sent, {} received, {} "
      "refused",
      c->call_id, to_string(c->side), c->device, talked, c->media.sent, c->media.received, c->media.refused);
  if (c->side == CallSide::phone) return;             // the network leg charges the call
  if (talked == 0 && c->media.received == 0) return;  // nothing was said: nothing to charge
  auto device = hooks_.represented(c->device);
  if (!device) return;
  auto callee = c->side == CallSide::caller ? c->peer_device : c->device;
  // One call id per call; each side's record is bound to its own principal (billing.cpp).
  auto id = c->call_id.substr(0, std::min<std::size_t>(c->call_id.size(), 64));
  hooks_.charge(
      device, json{{"call_id", id}, {"callee", callee}, {"seconds", talked}, {"started", c->started}}.dump());
}

}  // namespace mobix::telephony
