#pragma once
// One secure call as one represented device's proxy sees it (seed 003); see call_agent.hpp.
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "codec/sip/sip.hpp"
#include "kerberos/call_keying.hpp"
#include "media/srtp_stream.hpp"
#include "telephony/sip_transport.hpp"

namespace mobix::telephony {

/// A network leg (caller or callee: between two represented devices' proxies, Kerberos-keyed) or a
/// phone leg (between a proxy and its own device's phone on the access network, SDES-keyed).
inline std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

enum class CallSide { caller, callee, phone };
const char* to_string(CallSide s);

enum class CallState {
  inviting,  ///< caller: INVITE sent, no final answer yet
  answered,  ///< callee: 200 OK sent, waiting for the ACK
  talking,   ///< both: media flowing
  ending,    ///< BYE sent or received
  ended,
};
const char* to_string(CallState s);

struct MediaCounts {
  std::uint64_t sent = 0, received = 0, refused = 0;
};

struct Call {
  Call(boost::asio::any_io_executor ex) : wake(ex), rtp(ex) {}
  CallSide side = CallSide::caller;
  CallState state = CallState::inviting;
  std::string call_id, local_tag, remote_tag;
  std::string device, peer_device;     ///< identity codes: this side's and the other's
  std::string from_header, to_header;  ///< the dialog's, as the caller wrote them
  SipPeer signalling;                  ///< where the other side's SIP goes
  std::string last_response;           ///< callee: answered again to a retransmitted INVITE
  std::string ack;                     ///< caller: sent again to a retransmitted 200 OK
  bool uac = false;                    ///< this proxy sent the dialog's INVITE
  std::string remote_target;           ///< the other side's Contact: in-dialog requests go there
  std::uint32_t next_cseq = 2;         ///< of this side's next in-dialog request
  std::optional<sip::Message> invite;  ///< a received INVITE, answered later (bridged calls)
  std::string answer;                  ///< the 200 OK kept until a phone has answered
  std::optional<sip::SdesKey> sdes;    ///< phone leg: the key this proxy sends with
  std::weak_ptr<Call> partner;         ///< the other leg of a bridged call
  std::deque<sip::Message> inbox;      ///< SIP for this call, for the waiting coroutine
  boost::asio::steady_timer wake;
  boost::asio::ip::udp::socket rtp;
  boost::asio::ip::udp::endpoint media_peer;
  std::unique_ptr<media::SrtpStream> send, recv;
  std::chrono::steady_clock::time_point talking_since;
  std::int64_t started = 0;  ///< unix seconds, for the charge
  std::uint32_t ssrc = 0;
  MediaCounts media;
  /// Whole seconds since media began; 0 for a call that never got that far.
  std::int64_t talked_seconds() const {
    if (talking_since == std::chrono::steady_clock::time_point{}) return 0;
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - talking_since)
        .count();
  }
  bool hung_up = false;  ///< the other side sent BYE
  // CANCEL (RFC 3261 9): a pending INVITE given up by its sender.
  bool cancelled = false;         ///< this side answered the INVITE it received 487 (its sender cancelled)
  bool cancel_requested = false;  ///< this side's own INVITE is to be cancelled
  std::string cancel;             ///< the CANCEL for this side's own INVITE, sent once it has a 1xx
};

}  // namespace mobix::telephony
