#include "cb/box_agent.hpp"

#include "cb/line_radio.hpp"

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "codec/cb/cb_protocol.hpp"
#include "codec/radius/radius.hpp"
#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "net/tls_context.hpp"
#include "pki/pki.hpp"
#include "sim/radius_client.hpp"

namespace mobix::cb {

namespace asio = boost::asio;
using json = nlohmann::json;

const char* to_string(BoxAgentState s) {
  switch (s) {
    case BoxAgentState::unconfigured:
      return "unconfigured";
    case BoxAgentState::logging_in_to_configure:
      return "logging_in_to_configure";
    case BoxAgentState::awaiting_download:
      return "awaiting_download";
    case BoxAgentState::configured:
      return "configured";
    case BoxAgentState::calling_back:
      return "calling_back";
    case BoxAgentState::connected:
      return "connected";
  }
  return "unknown";
}

namespace {

/// Runs a blocking call (the simulated NAS's RADIUS exchange) on the pool; resumes on the caller's
/// executor. Rethrows what the call threw.
template <typename T>
asio::awaitable<T> off_thread(asio::thread_pool& pool, std::function<T()> fn) {
  auto ex = co_await asio::this_coro::executor;
  auto done = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
  auto result = std::make_shared<std::optional<T>>();
  auto error = std::make_shared<std::exception_ptr>();
  asio::post(pool, [fn, done, result, error, ex] {
    try {
      *result = fn();
    } catch (...) {
      *error = std::current_exception();
    }
    asio::post(ex, [done] { done->cancel(); });
  });
  co_await done->async_wait(asio::as_tuple(asio::use_awaitable));
  if (*error) std::rethrow_exception(*error);
  co_return std::move(**result);
}

std::string random_session_id() {
  unsigned char r[8];
  RAND_bytes(r, sizeof r);
  std::string out;
  for (auto b : r) out += fmt::format("{:02X}", b);
  return out;
}

}  // namespace

BoxAgent::BoxAgent(asio::io_context& io, asio::thread_pool& blocking, LineRadio& radio, std::string dir,
                   BoxWorld world)
    : io_(io),
      blocking_(blocking),
      radio_(radio),
      flash_(std::move(dir)),
      world_(std::move(world)),
      signal_(io) {
  tag_ = "cb " + flash_.factory().serial;
  listen_for_wakeups();
}

BoxAgent::~BoxAgent() = default;

void BoxAgent::set_state(BoxAgentState s) {
  if (s == state_) return;
  spdlog::info("{}: {} -> {}", tag_, to_string(state_), to_string(s));
  state_ = s;
}

void BoxAgent::stop() {
  stopping_ = true;
  signal_.cancel();
  if (config_server_) config_server_->stop();
}

asio::awaitable<void> BoxAgent::sleep(std::chrono::milliseconds d) {
  signal_.expires_after(d);
  co_await signal_.async_wait(asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> BoxAgent::run() {
  while (!stopping_) {
    if (flash_.unconfigured()) {
      // Phase II [1]: no valid operational parameters at power-up: configure, with no input.
      set_state(BoxAgentState::unconfigured);
      bool ok = co_await configure();
      if (!ok && !stopping_) {
        auto retry = std::chrono::milliseconds(1000 * flash_.factory().retry);
        co_await sleep(retry);
      }
      continue;
    }
    set_state(BoxAgentState::configured);
    if (!listening_) listen_for_wakeups();
    while (!wake_pending_ && !stopping_) {
      auto forever = std::chrono::milliseconds(3600 * 1000);
      co_await sleep(forever);
    }
    if (stopping_) break;
    wake_pending_ = false;
    co_await call_back();
  }
}

asio::awaitable<std::optional<BoxAgent::Login>> BoxAgent::log_in(std::string username, std::string password) {
  // What the NAS does for the box's dial-up log-in (seed 004 Phase II [2], Phase III).
  auto world = world_;
  // Named, not a temporary, across co_await (docs/design.md: GCC 12 coroutines).
  std::function<std::optional<radius::Packet>()> request = [world, username, password] {
    sim::RadiusClient client(world.nas_auth, world.nas_secret, 2000, 3);
    radius::Packet req;
    req.add_text(radius::attr::user_name, username);
    if (!world.line.empty()) req.add_text(radius::attr::calling_station_id, world.line);
    req.add_text(radius::attr::nas_identifier, "cb-nas");
    return client.access(req, password);
  };
  auto reply = co_await off_thread<std::optional<radius::Packet>>(blocking_, request);
  if (!reply) {
    spdlog::warn("{}: log-in as {}: no answer from the access point", tag_, username);
    co_return std::nullopt;
  }
  if (reply->code != radius::Code::access_accept) {
    spdlog::warn("{}: log-in as {} refused: {}", tag_, username,
                 reply->text(radius::attr::reply_message).value_or("(no reason)"));
    co_return std::nullopt;
  }
  auto ip = reply->ipv4(radius::attr::framed_ip_address);
  if (!ip) {
    spdlog::warn("{}: log-in as {}: accepted without an address", tag_, username);
    co_return std::nullopt;
  }
  Login login{*ip, random_session_id(), username};
  std::function<bool()> start = [world, login] {
    sim::RadiusClient client(world.nas_acct, world.nas_secret, 2000, 3);
    radius::Packet req;
    req.add_integer(radius::attr::acct_status_type, 1);  // Start (RFC 2866 5.1)
    req.add_text(radius::attr::user_name, login.username);
    req.add_ipv4(radius::attr::framed_ip_address, login.ip);
    req.add_text(radius::attr::acct_session_id, login.session_id);
    if (!world.line.empty()) req.add_text(radius::attr::calling_station_id, world.line);
    req.add_text(radius::attr::nas_identifier, "cb-nas");
    return client.accounting(req).has_value();
  };
  auto acct = co_await off_thread<bool>(blocking_, start);
  if (!acct) {
    spdlog::warn("{}: Accounting-Start for {} not answered", tag_, login.ip);
    co_return std::nullopt;
  }
  spdlog::info("{}: logged in as {} at {}", tag_, username, login.ip);
  co_return login;
}

asio::awaitable<void> BoxAgent::log_out(Login login) {
  auto world = world_;
  std::function<bool()> stop = [world, login] {
    sim::RadiusClient client(world.nas_acct, world.nas_secret, 2000, 3);
    radius::Packet req;
    req.add_integer(radius::attr::acct_status_type, 2);  // Stop
    req.add_text(radius::attr::user_name, login.username);
    req.add_ipv4(radius::attr::framed_ip_address, login.ip);
    req.add_text(radius::attr::acct_session_id, login.session_id);
    if (!world.line.empty()) req.add_text(radius::attr::calling_station_id, world.line);
    req.add_text(radius::attr::nas_identifier, "cb-nas");
    return client.accounting(req).has_value();
  };
  co_await off_thread<bool>(blocking_, stop);
  spdlog::info("{}: logged out of {}", tag_, login.ip);
}

std::string BoxAgent::check_download(const std::string& body, const HttpRequest::PeerCertificate& peer_cert,
                                     std::string& why) const {
  // Only the configuration manager may configure the box: a certificate from the root CA (checked
  // by TLS) that says "css" (seed 004 (i)).
  auto factory = flash_.factory();
  const auto& manager = peer_cert;
  if (manager.unit != "css" || (!factory.css_name.empty() && manager.common_name != factory.css_name)) {
    why = "the client is not the configuration manager (" + manager.common_name + ")";
    return "403";
  }
  auto params = parse_operational(body, why);
  if (!params) return "400";
  // The CB certificate must be for the key this box holds, from the root CA, for the CB ID given.
  auto ca = pki::read_file(flash_.ca_path());
  auto verified = pki::verify(params->cb_certificate, ca, "", "client");
  if (!verified.ok) {
    why = "the CB certificate does not verify: " + verified.error;
    return "422";
  }
  auto cert = pki::identity_of(params->cb_certificate);
  auto mine = pki::public_key_of(pki::read_file(flash_.serial_cert_path()));
  if (cert.unit != "cb" || cert.common_name != params->cb_id ||
      pki::public_key_of(params->cb_certificate) != mine) {
    why = "the CB certificate is not for this box's key and CB ID";
    return "422";
  }
  return "200";
}

asio::awaitable<bool> BoxAgent::configure() {
  auto factory = flash_.factory();
  set_state(BoxAgentState::logging_in_to_configure);
  // Phase II [2]: the configuration access point, as "serial@config_domain".
  auto login = co_await log_in(factory.config_username, factory.config_password);
  if (!login) co_return false;

  // Phase II [5]: the box is the HTTPS server; the configuration manager connects with mutual TLS.
  net::TlsOptions tls;
  tls.side = net::TlsOptions::Side::server;
  tls.cert_file = flash_.serial_cert_path();
  tls.key_file = flash_.key_path();
  tls.ca_file = flash_.ca_path();
  tls.verify_peer = true;
  HttpServerOptions opts;
  opts.name = "cb";
  opts.tls = net::make_tls_context(tls);
  opts.read_timeout = std::chrono::seconds(10);
  downloaded_ = false;
  config_server_ = std::make_unique<HttpServer>(
      io_, Endpoint{login->ip, factory.box_port},
      [this](const HttpRequest& req, HttpReply reply) {
        if (req.method != "POST" || req.path != cbproto::kConfigurationPath)
          return reply(HttpResponse{404, "application/json", R"({"error":"no such endpoint"})", true});
        std::string why;
        auto status = check_download(req.body, req.peer_cert, why);
        if (status != "200") {
          spdlog::warn("{}: configuration download refused ({}): {}", tag_, status, why);
          return reply(
              HttpResponse{std::stoi(status), "application/json", json{{"error", why}}.dump(), true});
        }
        try {
          flash_.store_operational(req.body);  // Phase II [6]: into flash, atomically
        } catch (const std::exception& e) {
          spdlog::error("{}: cannot store the parameters: {}", tag_, e.what());
          return reply(HttpResponse{500, "application/json", json{{"error", "cannot store"}}.dump(), true});
        }
        downloaded_ = true;
        signal_.cancel();
        reply(HttpResponse{200, "application/json", R"({"stored":true})"});
      },
      opts);
  bool ok = false;
  try {
    config_server_->start();
    set_state(BoxAgentState::awaiting_download);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(factory.config_wait);
    while (!downloaded_ && !stopping_ && std::chrono::steady_clock::now() < deadline) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      co_await sleep(left);
    }
    ok = downloaded_;
  } catch (const std::exception& e) {
    spdlog::error("{}: cannot serve on {}:{}: {}", tag_, login->ip, factory.box_port, e.what());
  }
  // Let the answer reach the manager, then close; the flag goes last (Phase II [1]).
  auto settle = std::chrono::milliseconds(200);
  co_await sleep(settle);
  config_server_->stop();
  if (ok) {
    flash_.clear_unconfigured_flag();
    spdlog::info("{}: configured as {}", tag_, flash_.operational()->cb_name);
  } else {
    spdlog::warn("{}: no configuration arrived within {} s", tag_, factory.config_wait);
  }
  co_await log_out(*login);
  co_return ok;
}

void BoxAgent::listen_for_wakeups() {
  // The line the box is plugged into, or the one its parameters 191 name. Tuned once: a fleet's
  // lines are all known before the radio binds, so it binds once for all of them.
  auto op = flash_.operational();
  auto line = !world_.line.empty() ? world_.line : op ? op->wakeup_line : std::string();
  if (line.empty() || listening_) return;
  listening_ = true;
  radio_.tune(line, [this](const std::string& text) {
    auto params = flash_.operational();
    if (!params || !cbproto::is_wakeup_for(text, params->cb_id)) {
      spdlog::info("{}: ignored a message that is not our wake-up", tag_);
      return;
    }
    spdlog::info("{}: woken up", tag_);
    wake_pending_ = true;
    signal_.cancel();
  });
  spdlog::info("{}: listening for wake-ups on {}", tag_, sms_address(line));
}

asio::awaitable<bool> BoxAgent::call_back() {
  auto op = flash_.operational();
  if (!op) co_return false;
  set_state(BoxAgentState::calling_back);
  // Phase III: the normal access point with the downloaded log-in, then the CSS with the CB
  // certificate; a resumed TLS session after the first time (seed 004 variants).
  auto login = co_await log_in(op->nap_username, op->nap_password);
  if (!login) co_return false;
  net::TlsOptions tls;
  tls.side = net::TlsOptions::Side::client;
  tls.cert_pem = op->cb_certificate;
  tls.key_file = flash_.key_path();
  tls.ca_file = flash_.ca_path();
  auto ctx = net::make_tls_context(tls);
  net::HttpsConnection conn(io_.get_executor());
  std::string why;
  auto timeout = std::chrono::seconds(10);
  Endpoint css{op->css_host, op->css_port};
  bool connected = co_await conn.connect_verified_chain(css, *ctx, timeout, why, tls_session_, login->ip);
  bool ok = false;
  if (!connected) {
    spdlog::warn("{}: cannot reach the CSS at {}: {}", tag_, css.str(), why);
  } else if (pki::identity_of(conn.peer_certificate()).unit != "css") {
    spdlog::warn("{}: the server at {} is not the CSS", tag_, css.str());
  } else {
    set_state(BoxAgentState::connected);
    std::string method = "GET", target(cbproto::kHelloPath), host = op->css_host, type;
    std::string body;
    auto hello = co_await conn.request(method, target, host, type, body, timeout);
    if (hello.status == 200) {
      auto j = json::parse(hello.body, nullptr, false);
      std::vector<AddressBookEntry> book;
      if (j.is_object() && j.contains("address_book") && j["address_book"].is_array())
        for (const auto& e : j["address_book"])
          book.push_back({e.value("cb_name", ""), e.value("friendly_name", "")});
      flash_.store_address_book(book, j.is_object() ? j.value("ab_seq", std::int64_t{0}) : 0);
      tls_session_ = conn.session();
      spdlog::info("{}: called back the CSS ({} handshake): {} address-book entries", tag_,
                   conn.resumed() ? "resumed" : "full", book.size());
      ok = true;
      // Seed 004: the box disconnects when the Connected state's timeout expires.
      auto idle = std::chrono::milliseconds(1000 * op->connected_timeout);
      co_await sleep(idle);
      std::string bye_method = "POST", bye_target(cbproto::kByePath), bye_type = "application/json",
                  bye_body = "{}";
      co_await conn.request(bye_method, bye_target, host, bye_type, bye_body, timeout);
    } else {
      spdlog::warn("{}: the CSS refused the call back: HTTP {} {}", tag_, hello.status,
                   hello.status ? hello.body : hello.error);
    }
    auto close_timeout = std::chrono::seconds(2);
    co_await conn.close(close_timeout);
  }
  co_await log_out(*login);
  set_state(BoxAgentState::configured);
  co_return ok;
}

}  // namespace mobix::cb
