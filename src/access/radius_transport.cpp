// The access role's intake: RADIUS over UDP from NASes (RFC 2865/2866) and over RadSec from
// roaming partners (RFC 6614), drops with reasons, duplicate detection (RFC 5080 2.2.2), replies
// and group commits.
#include <spdlog/spdlog.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "access/radius_server_impl.hpp"
#include "codec/radius/radsec.hpp"
#include "core/net.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace asio = boost::asio;
using udp = asio::ip::udp;

void AccessRole::Impl::open(udp::socket& s, const Endpoint& ep) {
  udp::endpoint e(asio::ip::make_address(ep.host), ep.port);
  boost::system::error_code ec;
  s.open(e.protocol(), ec);
  if (!ec) s.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
  if (!ec) s.bind(e, ec);
  if (ec) throw_listen_error("access: RADIUS", ep, ec);
}

asio::awaitable<void> AccessRole::Impl::receive_loop(udp::socket& sock, bool accounting) {
  std::array<std::uint8_t, radius::kMaxPacketSize + 1> buf;
  udp::endpoint from;
  const char* name = accounting ? "acct" : "auth";
  for (;;) {
    auto [ec, n] =
        co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    if (stopping || !sock.is_open() || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. ICMP port unreachable reported on a previous send
    try {
      std::span<const std::uint8_t> raw(buf.data(), n);
      handle_udp(raw, from, accounting);
    } catch (const DirectoryUnavailable& e) {
      // Unanswered, so the NAS retransmits (RFC 5080 2.2.1) or fails over to another node.
      drop(name, "directory_unavailable", from.address().to_string());
      spdlog::error("radius {}: directory unavailable for a request from {}: {}", name,
                    from.address().to_string(), e.what());
    } catch (const std::exception& e) {
      drop(name, "internal_error", from.address().to_string());
      spdlog::error("radius {}: error handling packet from {}: {}", name, from.address().to_string(),
                    e.what());
    }
  }
}

void AccessRole::Impl::handle_udp(std::span<const std::uint8_t> raw, const udp::endpoint& from,
                                  bool accounting) {
  const char* name = accounting ? "acct" : "auth";
  (accounting ? requests_acct : requests_auth).inc();
  const auto* client = client_for(from.address());
  if (!client) return drop(name, "unknown_client", from.address().to_string());
  // Above capacity (issue 12 item 9): the store is behind by max_pending_writes requests. Dropped
  // unanswered and counted, so the NAS retransmits later (RFC 5080 2.2.1) or fails over; no
  // unbounded queue grows in memory, and lookups for everyone else stay fast.
  if (writer.pending() >= cfg.max_pending_writes) return drop(name, "overloaded", from.address().to_string());
  auto src = udp_source(*client, from, accounting);
  if (accounting)
    process_acct(raw, src);
  else
    process_auth(raw, src);
}

void AccessRole::Impl::handle_radsec(const RoamingPartnerConfig& partner, const roaming::Bytes& raw,
                                     std::function<void(roaming::Bytes)> reply) {
  Source src;
  src.key = "radsec:" + partner.name;
  src.secret = std::string(radius::kRadsecSecret);
  src.peer = "partner " + partner.name;
  src.partner = &partner;
  src.reply = [reply = std::move(reply)](DedupCache::Response bytes) { reply(*bytes); };
  try {
    if (raw.size() >= 1 && raw[0] == static_cast<std::uint8_t>(radius::Code::accounting_request)) {
      requests_acct.inc();
      process_acct(raw, src);
    } else {
      requests_auth.inc();
      process_auth(raw, src);
    }
  } catch (const DirectoryUnavailable& e) {
    drop("radsec", "directory_unavailable", src.peer);
    spdlog::error("radsec: directory unavailable for a request from {}: {}", partner.name, e.what());
  } catch (const std::exception& e) {
    drop("radsec", "internal_error", src.peer);
    spdlog::error("radsec: error handling a request from {}: {}", partner.name, e.what());
  }
}

void AccessRole::Impl::look_up(std::vector<AccessService::Lookup> lookups, const char* listener,
                               DedupCache& cache, const Source& src, const std::string& key,
                               std::function<void(LookedUp)> then) {
  if (lookups_waiting >= kMaxWaitingLookups) {
    cache.forget(key);
    return drop(listener, "directory_busy", src.peer);
  }
  ++lookups_waiting;
  auto pass = std::make_shared<Gate::Pass>(gate.enter());
  asio::post(*lookup_pool, [this, lookups = std::move(lookups), listener, &cache, peer = src.peer, key,
                            then = std::move(then), pass, alive = std::weak_ptr<int>(alive_token)]() mutable {
    LookedUp found;
    std::string error;
    bool unavailable = false;
    try {
      found = AccessService::run_lookups(dir, lookups);
    } catch (const DirectoryUnavailable& e) {
      unavailable = true;
      error = e.what();
    } catch (const std::exception& e) {
      error = e.what();
    }
    asio::post(io, [this, found = std::move(found), error = std::move(error), unavailable, listener, &cache,
                    peer = std::move(peer), key = std::move(key), then = std::move(then), pass, alive] {
      if (alive.expired()) return;
      --lookups_waiting;
      // Unanswered, so the NAS retransmits (RFC 5080 2.2.1) or fails over to another node.
      auto unanswered = [&](bool dir_down, const char* why) {
        cache.forget(key);
        drop(listener, dir_down ? "directory_unavailable" : "internal_error", peer);
        spdlog::error("radius {}: {} for a request from {}: {}", listener,
                      dir_down ? "directory unavailable" : "error", peer, why);
      };
      if (!error.empty()) return unanswered(unavailable, error.c_str());
      try {
        then(found);
      } catch (const DirectoryUnavailable& e) {
        unanswered(true, e.what());
      } catch (const std::exception& e) {
        unanswered(false, e.what());
      }
    });
  });
}

const RadiusClientConfig* AccessRole::Impl::client_for(const asio::ip::address& a) const {
  for (const auto& c : cfg.clients)
    if (c.network.contains(a)) return &c;
  return nullptr;
}

AccessRole::Impl::Source AccessRole::Impl::udp_source(const RadiusClientConfig& client,
                                                      const udp::endpoint& from, bool accounting) {
  Source src;
  src.key = from.address().to_string() + ":" + std::to_string(from.port());
  src.secret = client.secret;
  src.peer = from.address().to_string();
  auto& sock = accounting ? acct_sock : auth_sock;
  src.reply = [this, &sock, from](DedupCache::Response bytes) { send(sock, from, std::move(bytes)); };
  return src;
}

void AccessRole::Impl::send(udp::socket& sock, const udp::endpoint& to, DedupCache::Response bytes) {
  sock.async_send_to(asio::buffer(*bytes), to, [bytes](const boost::system::error_code& ec, std::size_t) {
    if (ec && ec != asio::error::operation_aborted) spdlog::warn("radius: send failed: {}", ec.message());
  });
}

void AccessRole::Impl::drop(std::string_view listener, std::string_view reason, const std::string& from) {
  metrics()
      .counter("mobix_radius_dropped_total", "RADIUS packets dropped without a response, by reason",
               fmt::format("listener=\"{}\",reason=\"{}\"", listener, reason))
      .inc();
  auto suppressed = log_limit.allow(reason);
  if (suppressed >= 0)
    spdlog::warn("radius {}: dropped packet from {}: {}{}", listener, from, reason,
                 suppressed ? fmt::format(" ({} similar suppressed)", suppressed) : std::string());
}

std::string AccessRole::Impl::dedup_key(const std::string& prefix, const radius::Packet& p) {
  std::string k = prefix;
  k += ':';
  k += static_cast<char>(static_cast<std::uint8_t>(p.code));
  k += static_cast<char>(p.identifier);
  k.append(reinterpret_cast<const char*>(p.authenticator.data()), p.authenticator.size());
  return k;
}

bool AccessRole::Impl::is_duplicate(DedupCache& cache, const Source& src, const std::string& key) {
  DedupCache::Response cached;
  auto state = cache.check(key, cached);
  if (state == DedupCache::State::miss) return false;
  duplicates.inc();
  if (state == DedupCache::State::answered) src.reply(cached);
  return true;
}

void AccessRole::Impl::commit(std::vector<Change> changes, std::function<void()> then,
                              std::function<void()> on_failure, OnTaken on_taken,
                              std::optional<JobLease> fence) {
  if (changes.empty()) {
    then();
    return;
  }
  auto pass = std::make_shared<Gate::Pass>(gate.enter());
  writer.submit(
      std::move(changes),
      [this, pass, then = std::move(then), on_failure = std::move(on_failure),
       on_taken = std::move(on_taken)](StoreWriter::Outcome o, Refused refused) mutable {
        asio::post(io, [pass, o, then, on_failure, on_taken, taken = std::move(refused.offers)]() mutable {
          if (o == StoreWriter::Outcome::committed)
            then();
          else if (o == StoreWriter::Outcome::offer_taken && on_taken)
            on_taken(std::move(taken));
          else if (on_failure)
            on_failure();
        });
      },
      std::move(fence));
}

}  // namespace mobix
