#pragma once
// The mobile node's side of Mobile IPv4 (RFC 5944 3.6): what the per-device proxy of seed 003 does
// for each device it represents, and what `mobix sim mip` plays. One RegistrationClient (one UDP
// socket) serves any number of MobileNodes: replies are matched by home address and the low 32 bits
// of the identification, and accepted only with a valid Mobile-Home authenticator.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "codec/mip/mip.hpp"

namespace mobix::mip {

/// How one request ended.
struct Exchange {
  enum class Result {
    replied,          ///< an authenticated reply (its code says accepted or refused)
    unauthenticated,  ///< only replies without a valid authenticator came (RFC 5944 3.6.2.1: ignored)
    timed_out,
  };
  Result result = Result::timed_out;
  Reply reply;            ///< replied, or the last unauthenticated one
  unsigned attempts = 0;  ///< transmissions
};
const char* to_string(Exchange::Result r);

class RegistrationClient {
 public:
  struct Retransmit {
    std::chrono::milliseconds first{1000};  ///< doubled after each silence (RFC 5944 3.6.3)
    unsigned attempts = 4;
  };
  explicit RegistrationClient(boost::asio::io_context& io,
                              boost::asio::ip::udp::endpoint local = {boost::asio::ip::address_v4::any(), 0});
  ~RegistrationClient();
  /// Sends `r` authenticated with `sa` to `home_agent` until an authenticated reply comes.
  boost::asio::awaitable<Exchange> exchange(boost::asio::ip::udp::endpoint home_agent, Request r,
                                            SecurityAssociation sa, Retransmit retransmit);
  void close();

 private:
  struct Pending;
  boost::asio::awaitable<void> receive_loop();
  boost::asio::ip::udp::socket socket_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, Pending*> pending_;  ///< (home address, id low bits)
  bool closed_ = false;
};

/// One device's registration with its Home Agent: registers, re-registers before the granted
/// lifetime runs out, follows a new care-of address (the device moved, seed 003 claim 5), and
/// deregisters at the end. Identifications are timestamps; a refusal with code 133 resynchronises
/// the clock offset from the Home Agent's reply and tries once more (RFC 5944 5.7).
class MobileNode {
 public:
  struct Settings {
    boost::asio::ip::udp::endpoint home_agent_endpoint;
    std::uint32_t home_agent = 0;
    std::uint32_t home_address = 0;
    SecurityAssociation sa;
    std::uint16_t lifetime = 1800;  ///< asked for; the Home Agent may grant less
    std::uint8_t flags = 0;
    RegistrationClient::Retransmit retransmit;
  };
  using Clock = std::function<std::int64_t()>;  ///< unix seconds

  MobileNode(RegistrationClient& client, Settings s, Clock clock = {});
  /// One registration from `care_of` (lifetime 0 or care_of == home address: deregistration).
  boost::asio::awaitable<Exchange> register_from(std::uint32_t care_of, std::uint16_t lifetime);
  boost::asio::awaitable<Exchange> deregister();
  /// When to re-register after a grant of `lifetime` seconds: at 80 %, at least a second early.
  static std::chrono::seconds renew_after(std::uint16_t lifetime);
  std::int64_t clock_offset() const { return offset_; }
  /// A shorter schedule, e.g. for a deregistration while the process stops.
  void set_retransmit(RegistrationClient::Retransmit r) { s_.retransmit = r; }

 private:
  std::uint64_t next_identification();
  RegistrationClient& client_;
  Settings s_;
  Clock clock_;
  std::int64_t offset_ = 0;  ///< learned from the Home Agent's refusals (code 133)
  std::uint64_t last_id_ = 0;
};

}  // namespace mobix::mip
