#pragma once
// The connectivity listener of the CSS (seed 004 Figure 6: the connectivity manager a box calls):
// mutual TLS where the box proves its CB ID with the CB certificate from its parameters 191. This
// issue's part is Phase III: the box calls back after its wake-up, gets its initial address book
// (the CSS AB sequence number differs from the box's initial one) and later says goodbye; the
// CONNECT/SEND/VERIFY/METERING transactions build on the same listener later.
// A serial-number certificate is good for configuration only and is refused here; so is a CB
// certificate that is not the one issued last for its box, or one shown from an address that is not
// that box's access session (identity comes from the session table too).
#include <memory>

#include <boost/asio/io_context.hpp>

#include "core/config.hpp"
#include "core/net.hpp"
#include "net/http.hpp"

namespace mobix {

class BoxRegistry;
class SessionView;
class HttpServer;

class ConnectivityServer {
 public:
  ConnectivityServer(boost::asio::io_context& io, const CssConfig& cfg, BoxRegistry& registry,
                     SessionView& sessions);
  ~ConnectivityServer();
  void start();
  void stop();
  bool drained() const;
  Endpoint local_endpoint() const;

 private:
  void handle(const HttpRequest& req, HttpReply reply);
  HttpResponse refuse(const HttpRequest& req, int status, const char* reason, const std::string& detail);
  const CssConfig& cfg_;
  BoxRegistry& registry_;
  SessionView& sessions_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace mobix
