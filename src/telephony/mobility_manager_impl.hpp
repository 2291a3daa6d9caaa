#pragma once
// The mobility manager's insides, shared by its parts (private to src/telephony):
//   mobility_manager.cpp  the Role and the base stations' HTTP intake (reports, listings)
//   proxy_lifecycle.cpp   each device's coroutine: tickets, initiating information, Mobile IP
//   call_agent.cpp, call_media.cpp   secure calls between represented devices (CallAgent)
#include <deque>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/role.hpp"
#include "kerberos/key_table.hpp"
#include "mobile_node/mobile_node.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "telephony/call_agent.hpp"
#include "telephony/device_proxy.hpp"

namespace mobix::telephony {

class MobilityManager final : public Role {
 public:
  explicit MobilityManager(RoleContext& ctx);
  ~MobilityManager() override;
  void start() override;
  void stop() override;
  bool drained() const override;
  void listeners(Listeners& out) const override;

 private:
  // ---- intake (mobility_manager.cpp) ----
  void handle(const HttpRequest& req, HttpReply reply);
  HttpResponse report(const std::string& code, bool on, const std::string& body, const std::string& peer);
  HttpResponse refuse(int status, const std::string& outcome, const std::string& peer,
                      const std::string& detail);
  /// A chargeable use (a call): the proxy posts the charge to the billing service as the device.
  boost::asio::awaitable<void> charge(std::shared_ptr<DeviceProxy> d, std::string body, HttpReply reply);
  /// POST /v1/devices/<code>/dial {"to": "<code>", "seconds": N}: a secure call, charged on both sides.
  void dial(std::shared_ptr<DeviceProxy> d, const HttpRequest& req, HttpReply reply);
  std::shared_ptr<DeviceProxy> represented(const std::string& code) const;

  // ---- each device (proxy_lifecycle.cpp) ----
  enum class Ended { stop, restart };
  boost::asio::awaitable<void> run_device(std::shared_ptr<DeviceProxy> d);
  /// Waits for one of the bootstrap slots; false when the device was switched off while it waited.
  boost::asio::awaitable<bool> admit(std::shared_ptr<DeviceProxy> d);
  /// Gives `d`'s slot to the device that has waited longest.
  void release(DeviceProxy& d);
  boost::asio::awaitable<bool> bootstrap(DeviceProxy& d);
  boost::asio::awaitable<bool> fetch_initiating(DeviceProxy& d, std::string token,
                                                krb::SpnegoInitiator& initiator);
  boost::asio::awaitable<bool> register_at(DeviceProxy& d, std::uint32_t care_of);
  boost::asio::awaitable<Ended> keep(DeviceProxy& d);
  boost::asio::awaitable<void> renew_tickets(DeviceProxy& d);
  boost::asio::awaitable<void> backoff(DeviceProxy& d);
  void fail(DeviceProxy& d, const std::string& outcome, const std::string& detail);

  /// Kept-alive HTTPS connections to the initiating database (no TLS handshake per device).
  std::unique_ptr<net::HttpsConnection> take_connection();
  void give_back(std::unique_ptr<net::HttpsConnection> c);
  boost::asio::awaitable<net::HttpsConnection::Response> get_initiating(const std::string& code,
                                                                        const std::string& token);

  static std::int64_t now();
  static void count(const std::string& name, const std::string& outcome);

  boost::asio::io_context& io_;
  const MobilityManagerConfig& cfg_;
  std::string realm_;
  std::shared_ptr<krb::KeyTable> keys_;  ///< the devices' keys (mobility_manager.keytab), read once
  boost::asio::thread_pool pool_;        ///< Kerberos calls block on the KDC: they run here
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::unique_ptr<mip::RegistrationClient> mip_;
  std::map<std::string, std::shared_ptr<DeviceProxy>> devices_;
  std::uint32_t bootstraps_in_flight_ = 0;  ///< slots taken (at most cfg_.bootstraps_in_flight)
  std::deque<std::weak_ptr<DeviceProxy>> bootstrap_queue_;  ///< waiting for a slot, oldest first
  static constexpr std::size_t kIdleConnections = 8;
  std::vector<std::unique_ptr<net::HttpsConnection>> idle_connections_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<CallAgent> calls_;  ///< null without mobility_manager.sip_listen
  LogRateLimiter log_limit_{5};
  bool stopping_ = false;
};

}  // namespace mobix::telephony
