#pragma once
// The connectivity box agent (seed 004 Figure 2's coordinator 40 and configuration manager 124):
// `mobix cb run --state DIR` is one box with its own flash. On power-up with no valid operational
// parameters it configures itself with no input (Phase II [1]); then it waits for wake-ups and
// calls the CSS back with its CB certificate (Phase III).
//
// The box's surroundings are simulated the way the lab simulates a handset's: its "dial-up" log-in
// is the RADIUS Access-Request and Accounting the NAS would send for it (the box agent plays that
// NAS), and its wake-up "ringing" is an SMS received over an SMPP receiver bind to the lab SMSC.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "cb/box_flash.hpp"
#include "core/net.hpp"
#include "net/http.hpp"

struct ssl_session_st;

namespace mobix {
class HttpServer;
}  // namespace mobix

namespace mobix::cb {

class LineRadio;

/// Where the box is plugged in: its NAS (RADIUS) and its phone line (Calling-Station-Id; the
/// wake-ups arrive on it through the process's LineRadio).
struct BoxWorld {
  Endpoint nas_auth{"127.0.0.1", 1812};
  Endpoint nas_acct{"127.0.0.1", 1813};
  std::string nas_secret;  ///< never logged
  std::string line;        ///< the line's number; empty: the one parameters 191 name
};

/// Seed 004 Figures 3 and 5, as far as Phases II and III go.
enum class BoxAgentState {
  unconfigured,
  logging_in_to_configure,
  awaiting_download,
  configured,
  calling_back,
  connected
};
const char* to_string(BoxAgentState s);

class BoxAgent {
 public:
  BoxAgent(boost::asio::io_context& io, boost::asio::thread_pool& blocking, LineRadio& radio, std::string dir,
           BoxWorld world);
  ~BoxAgent();
  /// Runs until stop(): configures when needed, then answers wake-ups.
  boost::asio::awaitable<void> run();
  void stop();
  BoxAgentState state() const { return state_; }

 private:
  struct Login {
    std::string ip;
    std::string session_id;
    std::string username;
  };
  boost::asio::awaitable<bool> configure();
  boost::asio::awaitable<bool> call_back();
  boost::asio::awaitable<std::optional<Login>> log_in(std::string username, std::string password);
  boost::asio::awaitable<void> log_out(Login login);
  void listen_for_wakeups();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
  std::string check_download(const std::string& body, const HttpRequest::PeerCertificate& peer_cert,
                             std::string& why) const;
  void set_state(BoxAgentState s);

  boost::asio::io_context& io_;
  boost::asio::thread_pool& blocking_;
  LineRadio& radio_;
  BoxFlash flash_;
  BoxWorld world_;
  std::string tag_;  ///< "cb <serial>" in logs
  BoxAgentState state_ = BoxAgentState::unconfigured;
  bool stopping_ = false;
  bool downloaded_ = false;
  bool wake_pending_ = false;
  bool listening_ = false;
  boost::asio::steady_timer signal_;  ///< cancelled when a download or a wake-up arrives
  std::unique_ptr<HttpServer> config_server_;
  std::shared_ptr<ssl_session_st> tls_session_;  ///< resumed on the next call back (seed 004 variants)
};

}  // namespace mobix::cb
