#include "css/config_manager.hpp"

#include <ctime>

#include <openssl/rand.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include "codec/cb/cb_protocol.hpp"
#include "core/metrics.hpp"
#include "css/wakeup.hpp"
#include "net/http_client.hpp"
#include "net/tls_context.hpp"
#include "pki/pki.hpp"
#include "provisioning/registry.hpp"
#include "store/store.hpp"

namespace mobix {

namespace asio = boost::asio;
using json = nlohmann::json;

const char* to_string(Phase2Refusal r) {
  switch (r) {
    case Phase2Refusal::unregistered:
      return "unregistered";
    case Phase2Refusal::unreachable:
      return "unreachable";
    case Phase2Refusal::untrusted_certificate:
      return "untrusted_certificate";
    case Phase2Refusal::not_a_serial_certificate:
      return "not_a_serial_certificate";
    case Phase2Refusal::serial_mismatch:
      return "serial_mismatch";
    case Phase2Refusal::revoked_serial:
      return "revoked_serial";
    case Phase2Refusal::unknown_certificate:
      return "unknown_certificate";
    case Phase2Refusal::download_failed:
      return "download_failed";
    case Phase2Refusal::store_failed:
      return "store_failed";
  }
  return "unknown";
}

namespace {

std::string random_password() {
  static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  unsigned char r[24];
  if (RAND_bytes(r, sizeof r) != 1) throw std::runtime_error("no randomness for a password");
  std::string out;
  for (auto b : r) out += alphabet[b % (sizeof alphabet - 1)];
  return out;
}

std::shared_ptr<asio::ssl::context> client_tls(const CssConfig& cfg) {
  net::TlsOptions o;
  o.side = net::TlsOptions::Side::client;
  o.cert_file = cfg.cert_file;
  o.key_file = cfg.key_file;
  o.ca_file = cfg.ca_dir + "/ca.crt";
  return net::make_tls_context(o);
}

Counter& phase2(const char* result) {
  return metrics().counter("mobix_css_phase2_total", "Phase II configurations, by result",
                           std::string("result=\"") + result + "\"");
}

}  // namespace

ConfigManager::ConfigManager(asio::io_context& io, const CssConfig& cfg, BoxRegistry& registry,
                             SubscriberRepository& subscribers, const pki::Signer& signer,
                             WakeupSender& wakeups)
    : io_(io),
      cfg_(cfg),
      registry_(registry),
      subscribers_(subscribers),
      signer_(signer),
      wakeups_(wakeups),
      // Mutual TLS (seed 004 step [5]): the CSS shows its certificate, the box's must chain to the
      // root CA. The box is reached at a temporary address: what it proves is its serial, checked
      // below, not a host name.
      tls_(client_tls(cfg)),
      sweep_timer_(io) {}

ConfigManager::~ConfigManager() = default;

std::int64_t ConfigManager::now() const {
  return static_cast<std::int64_t>(std::time(nullptr));
}

void ConfigManager::start() {
  asio::co_spawn(io_, sweep_loop(), asio::detached);
}

void ConfigManager::stop() {
  gate_.close();
  waiting_.clear();
  sweep_timer_.cancel();
}

void ConfigManager::box_logged_in(const std::string& serial, const std::string& ip,
                                  const std::string& line_id) {
  if (gate_.closed()) return;
  // A box retrying while its previous log-in waits is configured once.
  for (auto& j : waiting_)
    if (j.serial == serial) {
      j.ip = ip;
      j.line_id = line_id;
      return;
    }
  if (waiting_.size() >= 100000) {
    phase2("queue_full").inc();
    spdlog::warn("css: box {} at {}: too many boxes waiting for configuration; it will log in again", serial,
                 ip);
    return;
  }
  waiting_.push_back(Job{serial, ip, line_id});
  pump();
}

void ConfigManager::pump() {
  while (running_ < cfg_.max_concurrent_downloads && !waiting_.empty() && !gate_.closed()) {
    auto job = waiting_.front();
    waiting_.pop_front();
    ++running_;
    asio::co_spawn(io_, configure(job), [this](std::exception_ptr) {
      --running_;
      pump();
    });
  }
}

void ConfigManager::refuse(const std::string& cb_id, const Job& job, Phase2Refusal why,
                           const std::string& detail) {
  phase2(to_string(why)).inc();
  spdlog::warn("css: Phase II for box {} at {} refused ({}): {}", job.serial, job.ip, to_string(why), detail);
  if (cb_id.empty()) return;
  try {
    registry_.transition(
        cb_id,
        [&](BoxRecord& r) {
          r.state = BoxState::config_error;
          r.state_reason = std::string("Phase II refused (") + to_string(why) + "): " + detail;
          r.callback_due = 0;
          return true;
        },
        now());
  } catch (const StoreError& e) {
    spdlog::error("css: cannot record the refusal for {}: {}", cb_id, e.what());
  }
}

std::pair<std::int64_t, std::string> ConfigManager::access_credentials(const BoxRecord& rec) {
  auto password = random_password();
  auto username = rec.cb_id + "@" + cfg_.access_realm;
  if (auto sub = subscribers_.find_subscriber(IdentityKind::serial, rec.serial)) {
    sub->username = username;
    sub->password = password;
    sub->attrs["cb_id"] = rec.cb_id;
    subscribers_.update_subscriber(*sub);
    return {sub->id, password};
  }
  Subscriber s;
  s.username = username;
  s.serial = rec.serial;
  s.password = password;
  s.attrs["cb_id"] = rec.cb_id;
  auto stored = subscribers_.add_subscriber(s);
  return {stored.id, password};
}

std::string ConfigManager::parameters_191(const BoxRecord& rec, const std::string& cert_pem,
                                          const std::string& nap_user,
                                          const std::string& nap_password) const {
  const auto& css = css_address_;
  return json{{"cb_id", rec.cb_id},
              {"cb_name", rec.cb_name},
              {"friendly_name", rec.friendly_name},
              {"cb_certificate", cert_pem},
              {"nap", {{"username", nap_user}, {"password", nap_password}}},
              {"css", {{"host", css.host}, {"port", css.port}}},
              {"timeouts", {{"connected", cfg_.connected_timeout}}},
              {"wakeup", {{"line_id", rec.line_id}, {"source", cfg_.wakeup_source}}},
              {"cfg_seq", rec.cfg_seq}}
      .dump();
}

asio::awaitable<void> ConfigManager::configure(Job job) {
  auto pass = gate_.enter();
  if (!pass) co_return;
  std::string cb_id;
  try {
    auto rec = registry_.repository().find_box(BoxRepository::Key::serial, job.serial);
    if (!rec) {
      refuse({}, job, Phase2Refusal::unregistered,
             "no user record for this serial: the call center has not registered it (Phase I)");
      co_return;
    }
    cb_id = rec->cb_id;
    registry_.transition(
        cb_id,
        [&](BoxRecord& r) {
          r.state = BoxState::configuring;
          r.state_reason = "Phase II: connecting to the box at " + job.ip;
          r.last_ip = job.ip;
          r.callback_due = 0;
          // Seed 004 variant: the line id from the access network beats the one given by phone.
          if (!job.line_id.empty()) r.line_id = job.line_id;
          return true;
        },
        now());

    // Step [5]: the CSS is the HTTPS client, the box the server (the seed's preferred way round).
    net::HttpsConnection conn(io_.get_executor());
    Endpoint to{job.ip, static_cast<std::uint16_t>(cfg_.box_port)};
    auto timeout = std::chrono::seconds(cfg_.download_timeout);
    std::string why;
    // The box brings its server up right after its log-in: a refused connection is tried again
    // (100 ms, then doubling) until the download's deadline.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool connected = false;
    for (auto pause = std::chrono::milliseconds(100);; pause *= 2) {
      connected = co_await conn.connect_verified_chain(to, *tls_, timeout, why);
      if (connected || why.rfind("TLS handshake failed", 0) == 0 || gate_.closed() ||
          std::chrono::steady_clock::now() + pause >= deadline)
        break;
      asio::steady_timer wait(io_, pause);
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!connected) {
      auto reason = why.rfind("TLS handshake failed", 0) == 0 ? Phase2Refusal::untrusted_certificate
                                                              : Phase2Refusal::unreachable;
      refuse(cb_id, job, reason, why);
      co_return;
    }
    auto* peer = conn.peer_certificate();
    auto id = pki::identity_of(peer);
    if (id.unit != "serial") {
      refuse(cb_id, job, Phase2Refusal::not_a_serial_certificate,
             "the box showed a certificate for \"" + id.unit + "\", not its serial-number certificate");
      co_return;
    }
    if (id.common_name != job.serial) {
      refuse(cb_id, job, Phase2Refusal::serial_mismatch,
             "logged in as serial " + job.serial + " but its certificate is for serial " + id.common_name);
      co_return;
    }
    auto valid = registry_.repository().find_valid_serial(job.serial);
    if (!valid || valid->revoked) {
      refuse(cb_id, job, Phase2Refusal::revoked_serial, "serial number revoked");
      co_return;
    }
    if (valid->cert_serial != id.serial) {
      refuse(cb_id, job, Phase2Refusal::unknown_certificate,
             "certificate " + id.serial + " is not the one minted for this serial");
      co_return;
    }

    // Parameters 191: a CB certificate for the key the box already holds, binding it to the CB ID.
    auto issued = signer_.sign_for_key_of(
        peer, pki::Signer::Subject{cb_id, "cb", true, true, static_cast<int>(cfg_.cert_days)});
    auto creds = access_credentials(*rec);
    auto nap_user = rec->cb_id + "@" + cfg_.access_realm;
    // Recorded before the download: once the box has the certificate, the CSS accepts it even if
    // this node stops right after.
    auto recorded = registry_.transition(
        cb_id,
        [&](BoxRecord& r) {
          r.cert_serial = issued.serial;
          r.subscriber_id = creds.first;
          r.state_reason = "Phase II: downloading the parameters";
          return true;
        },
        now());
    auto body = parameters_191(*recorded, issued.pem, nap_user, creds.second);
    std::string method = "POST", target(cbproto::kConfigurationPath), host = job.serial,
                type = "application/json";
    auto resp = co_await conn.request(method, target, host, type, body, timeout);
    if (resp.status == 0 && resp.error.find("alert") != std::string::npos) {
      // TLS 1.3: the box judges our certificate after the handshake; its alert comes with the
      // first read (seed 004 (i): the box refuses a manager whose certificate is not from its CA).
      refuse(cb_id, job, Phase2Refusal::untrusted_certificate,
             "the box refused the CSS's certificate: " + resp.error);
      co_return;
    }
    if (resp.status != 200) {
      refuse(cb_id, job, Phase2Refusal::download_failed,
             resp.status
                 ? "the box answered HTTP " + std::to_string(resp.status) + ": " + resp.body.substr(0, 200)
                 : "no answer: " + resp.error);
      co_return;
    }
    auto close_timeout = std::chrono::seconds(2);
    co_await conn.close(close_timeout);
    auto due = now() + cfg_.wakeup_delay + cfg_.callback_timeout;
    registry_.transition(
        cb_id,
        [&](BoxRecord& r) {
          r.state_reason =
              "Phase II done: the box stored its parameters; waiting for it to call back (Phase III)";
          r.callback_due = due;
          return true;
        },
        now());
    phase2("configured").inc();
    spdlog::info("css: box {} ({}) configured at {}: CB certificate {}", job.serial, cb_id, job.ip,
                 issued.serial);
  } catch (const StoreError& e) {
    refuse(cb_id, job, Phase2Refusal::store_failed, e.what());
    co_return;
  } catch (const std::exception& e) {
    refuse(cb_id, job, Phase2Refusal::download_failed, e.what());
    co_return;
  }
  asio::co_spawn(io_, wake_later(cb_id), asio::detached);
}

asio::awaitable<void> ConfigManager::wake_later(std::string cb_id) {
  auto pass = gate_.enter();
  if (!pass) co_return;
  // Step [6]: the wake-up follows "after a short predetermined delay".
  asio::steady_timer delay(io_, std::chrono::seconds(cfg_.wakeup_delay));
  co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
  if (gate_.closed()) co_return;
  std::optional<BoxRecord> rec;
  try {
    rec = registry_.repository().find_box(BoxRepository::Key::cb_id, cb_id);
  } catch (const StoreError& e) {
    spdlog::error("css: wake-up of {}: {}", cb_id, e.what());
    co_return;
  }
  if (!rec || rec->state != BoxState::configuring || rec->callback_due == 0) co_return;  // already back
  auto line = rec->line_id;
  auto outcome = co_await wakeups_.wake(line, cb_id);
  if (outcome == WakeupSender::Outcome::sent) co_return;
  auto reason = outcome == WakeupSender::Outcome::rate_limited ? "wake-up refused: too many for this line"
                                                               : "wake-up SMS could not be sent";
  try {
    registry_.transition(
        cb_id,
        [&](BoxRecord& r) {
          if (r.state != BoxState::configuring) return false;
          r.state = BoxState::config_error;
          r.state_reason = std::string("Phase III: ") + reason;
          r.callback_due = 0;
          return true;
        },
        now());
  } catch (const StoreError& e) {
    spdlog::error("css: cannot record the failed wake-up of {}: {}", cb_id, e.what());
  }
}

asio::awaitable<void> ConfigManager::sweep_loop() {
  // Seed 004 Phase III: "If the CB did not connect back ... within a pre-set timeout period, the
  // configuration protocol entity flags an error condition." A sweep over the records, so a
  // restart (or another node) does not lose the deadline.
  for (;;) {
    sweep_timer_.expires_after(std::chrono::seconds(2));
    auto [ec] = co_await sweep_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || gate_.closed()) co_return;
    try {
      auto t = now();
      for (const auto& b : registry_.list(BoxState::configuring)) {
        bool callback_late = b.callback_due != 0 && t > b.callback_due;
        bool phase2_stuck =
            b.callback_due == 0 && t > b.updated + 3 * std::int64_t{cfg_.download_timeout} + 30;
        if (!callback_late && !phase2_stuck) continue;
        registry_.transition(
            b.cb_id,
            [&](BoxRecord& r) {
              if (r.state != BoxState::configuring || r.version != b.version) return false;
              r.state = BoxState::config_error;
              r.state_reason = callback_late ? "Phase III: the box did not call back within " +
                                                   std::to_string(cfg_.callback_timeout) + " s of its wake-up"
                                             : "Phase II did not finish";
              r.callback_due = 0;
              return true;
            },
            t);
        metrics()
            .counter("mobix_css_callback_timeouts_total", "Boxes that did not finish configuring in time")
            .inc();
        spdlog::warn("css: box {} ({}): {}", b.serial, b.cb_id,
                     callback_late ? "did not call back after its wake-up" : "Phase II did not finish");
      }
    } catch (const StoreError& e) {
      spdlog::error("css: callback sweep: {}", e.what());
    }
  }
}

}  // namespace mobix
