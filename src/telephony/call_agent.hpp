#pragma once
// Seed 003's secure calls between represented devices: "the receiver collects a session key from
// Kerberos and establishes a safe and authenticated channel. After that H.323 follows on" (today:
// SIP, RFC 3261, over UDP and TCP). The caller's proxy puts an AP-REQ for the callee's device principal in
// its INVITE; the callee's proxy accepts it with the device key the mobility manager holds, answers
// with the AP-REP, and both derive the call's SRTP keys (RFC 3711) from the Kerberos context
// (krb/call_keying.hpp). A caller that cannot show a ticket for the callee gets 401; a replayed,
// expired or foreign one 403. The represented device's speech is a generated tone (the device is
// simulated); the media path is real SRTP.
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/tcp_service.hpp"
#include "kerberos/call_keying.hpp"
#include "kerberos/key_table.hpp"
#include "net/tls_context.hpp"
#include "net/token_buckets.hpp"
#include "telephony/call.hpp"
#include "telephony/device_proxy.hpp"

namespace mobix::telephony {

/// What the agent needs from the mobility manager.
struct CallHooks {
  /// The device's proxy when it is represented and active here, else null.
  std::function<std::shared_ptr<DeviceProxy>(const std::string& code)> represented;
  /// Posts a charge for a finished call as the device (its Kerberos identity).
  std::function<void(std::shared_ptr<DeviceProxy>, std::string body)> charge;
};

class CallAgent {
 public:
  CallAgent(boost::asio::io_context& io, const MobilityManagerConfig& cfg, std::string realm,
            boost::asio::thread_pool& pool, std::shared_ptr<krb::KeyTable> keys, CallHooks hooks);
  ~CallAgent();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

  struct DialResult {
    int status = 0;  ///< for the base station's HTTP answer
    nlohmann::json body;
  };
  /// A call from `caller` to the device `callee` for `seconds`, then hung up: both sides charge it.
  /// With `phone_leg` (a call the device's own phone placed) the network leg is bridged to it
  /// instead of carrying the simulated device's tone, and the phone gets the answer.
  boost::asio::awaitable<DialResult> dial(std::shared_ptr<DeviceProxy> caller, std::string callee,
                                          std::uint32_t seconds, std::shared_ptr<Call> phone_leg = nullptr);

 private:
  using udp = boost::asio::ip::udp;
  using tcp = boost::asio::ip::tcp;
  // ---- transports (call_transport.cpp) ----
  boost::asio::awaitable<void> receive_loop();
  /// One SIP connection: over TLS (`tls`), after the server handshake.
  boost::asio::awaitable<void> serve_stream(tcp::socket socket, bool tls);
  void close_stream(SipStream& s, const SipPeer& peer, const char* outcome, const std::string& detail);
  /// Why new SIP over TCP should wait (the UDP signalling queue is behind, or the call legs are
  /// near max_calls), or null.
  const char* overload() const;
  /// Holds a SIP connection's next read while overload() says so, at most kMaxPause.
  boost::asio::awaitable<void> hold_while_overloaded(SipStream& s);
  void send(const std::string& text, const SipPeer& to);
  void on_message(std::string_view text, const SipPeer& from);
  void on_invite(const sip::Message& m, const SipPeer& from);
  bool admit(const sip::Message& m, const SipPeer& from);
  // ---- the device's own phone (call_phone.cpp) ----
  void on_register(const sip::Message& m, const SipPeer& from);
  std::shared_ptr<DeviceProxy> phone_of(const sip::Message& m, const SipPeer& from) const;
  void on_phone_invite(const sip::Message& m, const SipPeer& from, std::shared_ptr<DeviceProxy> d);
  boost::asio::awaitable<void> place_for_phone(std::shared_ptr<Call> phone_leg,
                                               std::shared_ptr<DeviceProxy> d);
  boost::asio::awaitable<void> ring_phone(std::shared_ptr<Call> network_leg, std::shared_ptr<DeviceProxy> d);
  boost::asio::awaitable<void> bridge(std::shared_ptr<Call> a, std::shared_ptr<Call> b);
  bool open_phone_media(Call& c, const sip::AudioOffer& offer);
  void on_cancel(const sip::Message& m, const SipPeer& from);
  static bool final_answer_pending(const Call& c);
  // ---- transactions and dialogs ----
  boost::asio::awaitable<bool> await_ack(Call& c);
  boost::asio::awaitable<void> hang_up(Call& c);
  void refuse_invite(const sip::Message& m, const SipPeer& from, int code, const std::string& reason,
                     const std::string& outcome, const std::string& detail,
                     const std::vector<std::string>& headers = {});
  boost::asio::awaitable<void> run_callee(std::shared_ptr<Call> c);
  boost::asio::awaitable<bool> await_message(Call& c, std::chrono::milliseconds budget);
  boost::asio::awaitable<std::optional<sip::Message>> transact(Call& c, const std::string& request,
                                                               const std::string& cseq_method);
  boost::asio::awaitable<void> talk(std::shared_ptr<Call> c, std::chrono::seconds limit);
  boost::asio::awaitable<void> receive_media(std::shared_ptr<Call> c);
  bool open_media(Call& c, const std::string& remote_sdp, const krb::CallContext& keys);
  /// The call's RTP socket on sip_listen's address (an ephemeral port), unless it is open already.
  boost::system::error_code open_rtp(Call& c);
  /// Where the other side's media goes and comes from (its SDP), and this side's socket.
  bool media_towards(Call& c, const sip::AudioOffer& offer);
  void finish(std::shared_ptr<Call> c);
  std::string request_headers(const Call& c, const std::string& method, std::uint32_t cseq,
                              const std::string& branch) const;
  std::string new_token(std::size_t bytes) const;
  /// "Contact: <sip:user@...>" for a request or answer to `to`: over TLS, the TLS listener with
  /// transport=tls, so the phone's requests in the dialog (ACK, BYE) come over TLS too.
  std::string contact(const std::string& user, const SipPeer& to) const;
  /// Prepares `c.cancel` for the INVITE `c` is about to send to `uri`; returns the branch the
  /// INVITE must use.
  std::string prepare_cancel(Call& c, const std::string& uri) const;
  static void count(const std::string& name, const std::string& outcome);
  std::chrono::milliseconds t1() const { return std::chrono::milliseconds(cfg_.sip_t1_ms); }

  boost::asio::io_context& io_;
  const MobilityManagerConfig& cfg_;
  std::string realm_;
  boost::asio::thread_pool& pool_;
  CallHooks hooks_;
  std::unique_ptr<krb::CallAcceptor> acceptor_;
  udp::socket socket_;
  std::unique_ptr<TcpService> stream_service_;            ///< SIP over TCP on socket_'s port
  std::shared_ptr<boost::asio::ssl::context> tls_;        ///< sip_tls_cert and sip_tls_key
  std::unique_ptr<TcpService> tls_service_;               ///< SIP over TLS on sip_tls_listen
  std::list<std::weak_ptr<SipStream>> streams_;           ///< open connections, closed by stop()
  std::map<std::string, std::shared_ptr<Call>> calls_;    ///< by Call-ID + "/" + local tag
  std::map<std::string, std::shared_ptr<Call>> invites_;  ///< callee side, by Call-ID + "/" + remote tag
  net::TokenBuckets per_source_;
  /// mobix_mm_media_packets_total, looked up once: it counts every SRTP packet.
  struct MediaCounters {
    Counter *sent, *received, *foreign_source, *malformed, *auth_failed, *replayed;
    Counter& refused(media::SrtpResult r) const;
  } media_counts_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  ///< timers check it after the agent is gone
  LogRateLimiter log_limit_{5};
  bool stopping_ = false;
};

}  // namespace mobix::telephony
