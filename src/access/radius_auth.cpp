// Access-Request -> Access-Accept or Access-Reject (RFC 2865, RFC 3579 Message-Authenticator);
// a roamer from a partner's realm is authenticated by its home network (seed 002 [0028]).
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "access/radius_server_impl.hpp"

namespace mobix {

namespace asio = boost::asio;

namespace {

constexpr int kOfferAttempts = 3;  ///< pool offers per Access-Request before it is left to the NAS

/// The credentials a request carries: PAP (hidden User-Password, RFC 2865 5.2) or CHAP (5.3).
/// False when User-Password cannot be unhidden with the client's secret.
bool read_credentials(const radius::Packet& req, const std::string& secret, AuthInput& in,
                      std::string& plain_password) {
  if (const auto* pw = req.find(radius::attr::user_password)) {
    auto plain = radius::unhide_password(pw->value, req.authenticator, secret);
    if (!plain) return false;
    plain_password = *plain;
    in.pap_password = *plain;
    in.has_credentials = true;
    in.check_password = [p = *plain](const std::string& stored) {
      return radius::constant_time_equal(
          std::span(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()),
          std::span(reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size()));
    };
  } else if (req.find(radius::attr::chap_password)) {
    in.has_credentials = true;
    in.check_password = [&req](const std::string& stored) { return radius::verify_chap(req, stored); };
  }
  return true;
}

}  // namespace

void AccessRole::Impl::reject(radius::Packet& resp, const std::string& reply_message,
                              const std::string& metric_reason) {
  resp.code = radius::Code::access_reject;
  resp.add_text(radius::attr::reply_message, reply_message);
  metrics()
      .counter("mobix_radius_access_rejects_total", "Access-Rejects sent, by reason",
               fmt::format("reason=\"{}\"", metric_reason))
      .inc();
}

void AccessRole::Impl::answer_auth(const radius::Packet& req, const Source& src, const std::string& key,
                                   radius::Packet resp, std::vector<Change> changes,
                                   std::function<void()> after, std::function<void()> retry) {
  resp.identifier = req.identifier;
  resp.add_message_authenticator();
  auto bytes = std::make_shared<const Bytes>(radius::encode_response(resp, req.authenticator, src.secret));
  commit(
      std::move(changes),
      [this, key, bytes, reply = src.reply, after = std::move(after)] {
        if (after) after();
        auth_cache.answered(key, bytes);
        reply(bytes);
      },
      [this, key] { auth_cache.forget(key); },
      [this, key, peer = src.peer, retry = std::move(retry)](std::vector<Lease> taken) {
        offers_taken(taken);
        if (retry) return retry();
        auth_cache.forget(key);  // unanswered: the NAS retransmits and gets a fresh offer
        drop("auth", "pool_contended", peer);
      });
}

void AccessRole::Impl::process_auth(std::span<const std::uint8_t> raw, const Source& src) {
  auto decoded = radius::decode(raw);
  if (!decoded)
    return drop("auth", std::string("malformed_") + std::string(radius::to_string(decoded.error())),
                src.peer);
  auto& req = *decoded;
  if (req.code == radius::Code::status_server) return answer_status_server(raw, req, src);
  if (req.code != radius::Code::access_request) return drop("auth", "unexpected_code", src.peer);
  // RFC 3579 3.2 / BlastRADIUS: check Message-Authenticator before anything else. Over
  // RadSec the TLS connection protects the packet (RFC 6614 2.3), so it may be absent.
  auto ma = radius::check_request_message_authenticator(raw, src.secret);
  if (ma == radius::MessageAuthenticatorCheck::invalid)
    return drop("auth", "bad_message_authenticator", src.peer);
  if (ma == radius::MessageAuthenticatorCheck::absent && cfg.require_message_authenticator && !src.partner)
    return drop("auth", "missing_message_authenticator", src.peer);

  process_once(auth_cache, src, req, [&](const std::string& key) { authenticate(req, src, key); });
}

// RFC 5997: a NAS or a roaming partner asks whether we are alive. Only with a valid
// Message-Authenticator (section 3: else silently discarded); answered Access-Accept, never cached.
void AccessRole::Impl::answer_status_server(std::span<const std::uint8_t> raw, const radius::Packet& req,
                                            const Source& src) {
  if (radius::check_request_message_authenticator(raw, src.secret) !=
      radius::MessageAuthenticatorCheck::valid)
    return drop("auth", "status_server_unauthenticated", src.peer);
  radius::Packet resp;
  resp.code = radius::Code::access_accept;
  resp.identifier = req.identifier;
  resp.add_message_authenticator();
  metrics()
      .counter("mobix_radius_status_server_total", "Status-Server requests answered (RFC 5997)",
               src.partner ? "via=\"radsec\"" : "via=\"udp\"")
      .inc();
  spdlog::debug("radius: Status-Server from {} answered", src.peer);
  src.reply(std::make_shared<const std::vector<std::uint8_t>>(
      radius::encode_response(std::move(resp), req.authenticator, src.secret)));
}

void AccessRole::Impl::authenticate(const radius::Packet& req, const Source& src, const std::string& key,
                                    int attempt, const LookedUp& looked_up) {
  AuthInput in;
  in.username = req.text(radius::attr::user_name).value_or("");
  in.msisdn = normalize_msisdn(req.text(radius::attr::calling_station_id).value_or(""));
  in.imsi = req.vendor_text(radius::kVendor3gpp, radius::k3gppImsi).value_or("");
  in.apn = req.text(radius::attr::called_station_id).value_or("");
  std::string plain_password;
  if (!read_credentials(req, src.secret, in, plain_password)) {
    auth_cache.forget(key);
    return drop("auth", "malformed_user_password", src.peer);
  }

  radius::Packet resp;
  if (roaming && !src.partner && !service.is_own_realm(in.username)) {
    // Visited side (seed 002 [0028]): a terminal from another network. Its home network
    // authenticates it, over RadSec, if we have a roaming agreement with its realm.
    auto* home_network = visited->home(service.partner_for(in.username));
    if (!home_network) {
      auto realm = AccessService::realm_of(in.username);
      reject(resp, "no roaming agreement with realm " + realm, "no_roaming_agreement");
      spdlog::info("radius auth: reject user={} msisdn={}: no roaming agreement with realm {}", in.username,
                   in.msisdn, realm);
      return answer_auth(req, src, key, std::move(resp), {});
    }
    asio::co_spawn(io, proxy_auth(req, plain_password, src, key, home_network), asio::detached);
    return;
  }
  if (src.partner) {
    // Home side: only our own realms, and the answer carries the host name (seed 002 [0029]).
    if (AccessService::realm_of(in.username).empty() || !service.is_own_realm(in.username)) {
      reject(resp, "realm not served by this home network", "foreign_realm");
      return answer_auth(req, src, key, std::move(resp), {});
    }
    in.from_roaming_partner = true;
  }

  if (!looked_up && lookup_pool) {
    // LDAP: asked on the lookup pool; this request continues when the answer is back.
    if (auto lookups = service.auth_lookups(in); !lookups.empty())
      return look_up(
          std::move(lookups), "auth", auth_cache, src, key,
          [this, req, src, key, attempt](LookedUp found) { authenticate(req, src, key, attempt, found); });
  }
  auto d = looked_up ? service.authorize(in, clock(), *looked_up) : service.authorize(in, clock());
  std::function<void()> after;
  if (d.accept) {
    resp.code = radius::Code::access_accept;
    if (!d.framed_ip.empty()) resp.add_ipv4(radius::attr::framed_ip_address, d.framed_ip);
    resp.add_integer(radius::attr::acct_interim_interval, cfg.interim_interval);
    if (src.partner) {
      if (!d.hostname.empty()) resp.add_vendor_text(radius::kVendorMobix, radius::kMobixHostname, d.hostname);
      after = [this, partner = src.partner->name, user = in.username] { home.authenticated(partner, user); };
    }
    accepts.inc();
    spdlog::info("radius auth: accept user={} msisdn={} apn={} ip={} ({}){}", in.username, in.msisdn, in.apn,
                 d.framed_ip, d.reason, src.partner ? " for roaming partner " + src.partner->name : "");
  } else {
    reject(resp, d.reason, d.metric_reason);
    spdlog::info("radius auth: reject user={} msisdn={} apn={}: {}{}", in.username, in.msisdn, in.apn,
                 d.reason, src.partner ? " (asked by roaming partner " + src.partner->name + ")" : "");
  }
  // With several nodes, another one may have offered the address in the meantime (issue 14 item 3):
  // the store refuses the offer and the pool, reloaded, offers another. A few tries, then the NAS's
  // retransmission is the next one.
  std::function<void()> retry;
  if (!d.changes.empty() && attempt + 1 < kOfferAttempts)
    retry = [this, req, src, key, attempt] { authenticate(req, src, key, attempt + 1); };
  answer_auth(req, src, key, std::move(resp), std::move(d.changes), std::move(after), std::move(retry));
}

asio::awaitable<void> AccessRole::Impl::proxy_auth(radius::Packet req, std::string password, Source src,
                                                   std::string key, roaming::RadsecClient* home_network) {
  auto pass = gate.enter();
  if (!pass) co_return;
  const auto& partner = home_network->partner();
  auto answer = co_await visited->ask_home(*home_network, req, std::move(password));
  auto username = req.text(radius::attr::user_name).value_or("");
  auto apn = req.text(radius::attr::called_station_id).value_or("");
  radius::Packet resp;
  std::vector<Change> changes;
  if (!answer) {
    reject(resp, "home network " + partner.name + " did not answer", "home_unreachable");
    spdlog::warn("radius auth: reject user={}: home network {} did not answer", username, partner.name);
  } else if (answer->code != radius::Code::access_accept) {
    reject(resp, answer->text(radius::attr::reply_message).value_or("rejected by the home network"),
           "home_reject");
    spdlog::info("radius auth: reject user={}: home network {} said no", username, partner.name);
  } else {
    auto hostname = answer->vendor_text(radius::kVendorMobix, radius::kMobixHostname).value_or("");
    auto d = service.offer_roamer(username, apn, clock());
    if (!d.accept) {
      reject(resp, d.reason, d.metric_reason);
    } else {
      resp.code = radius::Code::access_accept;
      resp.add_ipv4(radius::attr::framed_ip_address, d.framed_ip);
      resp.add_integer(radius::attr::acct_interim_interval, cfg.interim_interval);
      if (!hostname.empty()) {
        resp.add_text(radius::attr::class_, roaming::host_class(hostname));
        resp.add_vendor_text(radius::kVendorMobix, radius::kMobixHostname, hostname);
      }
      changes = std::move(d.changes);
      accepts.inc();
      spdlog::info("radius auth: accept roaming user={} ip={} host={} (home network {})", username,
                   d.framed_ip, hostname, partner.name);
    }
  }
  answer_auth(req, src, key, std::move(resp), std::move(changes));
}

}  // namespace mobix
