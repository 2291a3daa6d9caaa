#pragma once
// The configuration manager of seed 004 (125 in Figure 15), Phase II steps [4]-[6] and the start of
// Phase III: told by the configuration authorisation server (the access role, through the session
// table) that a box logged in as "serial@config_domain" at an address, it connects to the box as
// the HTTPS client with mutual TLS, checks that the box proves the serial that logged in, issues a
// CB certificate for the box's own public key, downloads the parameters 191 and, after a short
// delay, has the box woken. Every refusal is logged, counted and written to the box's record.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/config.hpp"
#include "core/runtime.hpp"
#include "store/records.hpp"

namespace boost::asio::ssl {
class context;
}

namespace mobix {

class BoxRegistry;
class SubscriberRepository;
class WakeupSender;
namespace pki {
class Signer;
}

/// Why Phase II stopped for a box (metric label and the record's reason).
enum class Phase2Refusal {
  unregistered,
  unreachable,
  untrusted_certificate,
  not_a_serial_certificate,
  serial_mismatch,
  revoked_serial,
  unknown_certificate,
  download_failed,
  store_failed
};
const char* to_string(Phase2Refusal r);

class ConfigManager {
 public:
  ConfigManager(boost::asio::io_context& io, const CssConfig& cfg, BoxRegistry& registry,
                SubscriberRepository& subscribers, const pki::Signer& signer, WakeupSender& wakeups);
  ~ConfigManager();
  void start();
  void stop();
  bool drained() const { return gate_.active() == 0; }

  /// Seed 004 step [4]: the box with `serial` logged in to the configuration access point and
  /// holds `ip`; `line_id` is the caller id the access network gave (empty when none).
  void box_logged_in(const std::string& serial, const std::string& ip, const std::string& line_id);
  /// Where boxes call the connectivity listener (parameters 191): public_address, or where the
  /// listener is bound (port 0 resolved).
  void set_css_address(Endpoint e) { css_address_ = std::move(e); }

 private:
  struct Job {
    std::string serial, ip, line_id;
  };
  void pump();
  boost::asio::awaitable<void> configure(Job job);
  boost::asio::awaitable<void> wake_later(std::string cb_id);
  boost::asio::awaitable<void> sweep_loop();
  void refuse(const std::string& cb_id, const Job& job, Phase2Refusal why, const std::string& detail);
  /// The box's normal access credentials (parameters 191), kept as a directory subscriber.
  std::pair<std::int64_t, std::string> access_credentials(const BoxRecord& rec);
  std::string parameters_191(const BoxRecord& rec, const std::string& cert_pem, const std::string& nap_user,
                             const std::string& nap_password) const;
  std::int64_t now() const;

  boost::asio::io_context& io_;
  const CssConfig& cfg_;
  BoxRegistry& registry_;
  SubscriberRepository& subscribers_;
  const pki::Signer& signer_;
  WakeupSender& wakeups_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  Gate gate_;
  std::deque<Job> waiting_;
  std::uint32_t running_ = 0;
  boost::asio::steady_timer sweep_timer_;
  Endpoint css_address_;
};

}  // namespace mobix
