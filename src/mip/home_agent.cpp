#include "mip/home_agent.hpp"

#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/config.hpp"
#include "core/hex.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/net.hpp"
#include "mip/home_agent_core.hpp"
#include "net/token_buckets.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace mobix {

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

/// Security associations by home address, read from the device records and kept for a while (a
/// key change takes effect within key_cache_seconds). Unknown addresses are remembered too, so a
/// stranger's requests for random addresses do not each cost a store read.
class KeyCache {
 public:
  KeyCache(DeviceRepository& devices, std::uint32_t ttl) : devices_(devices), ttl_(ttl) {}
  std::optional<mip::SecurityAssociation> find(std::uint32_t home, std::int64_t now) {
    auto it = cache_.find(home);
    if (it != cache_.end() && it->second.until > now) return it->second.sa;
    return put(home, read(home), now);
  }
  bool cached(std::uint32_t home, std::int64_t now) const {
    auto it = cache_.find(home);
    return it != cache_.end() && it->second.until > now;
  }
  const std::optional<mip::SecurityAssociation>& put(std::uint32_t home,
                                                     std::optional<mip::SecurityAssociation> sa,
                                                     std::int64_t now) {
    if (cache_.size() > kMaxEntries) cache_.clear();
    return (cache_[home] = Entry{std::move(sa), now + ttl_}).sa;
  }
  /// Asks the device records; touches no cache state, so a pool thread may call it. Throws when the
  /// records cannot be read (the store or LDAP down).
  std::optional<mip::SecurityAssociation> read(std::uint32_t home) const {
    auto d = devices_.find_device(DeviceKey::home_address, mip::ipv4_to_string(home));
    if (!d) return std::nullopt;
    auto key = decode_hex(d->mip_key_hex);
    if (!key) {
      spdlog::error(
          "home_agent: device {} has a Mobile IP key that is not hex; its registrations are refused",
          d->identity_code);
      return std::nullopt;
    }
    return mip::SecurityAssociation{d->mip_spi, std::move(*key)};
  }

 private:
  static constexpr std::size_t kMaxEntries = 1 << 20;
  struct Entry {
    std::optional<mip::SecurityAssociation> sa;
    std::int64_t until = 0;
  };
  DeviceRepository& devices_;
  std::int64_t ttl_;
  std::unordered_map<std::uint32_t, Entry> cache_;
};

/// A request that waits for its home address's key to come back from a blocking directory.
struct WaitingRequest {
  std::vector<std::uint8_t> datagram;
  udp::endpoint from;
};

class HomeAgentRole final : public Role {
 public:
  explicit HomeAgentRole(RoleContext& ctx)
      : cfg_(*ctx.cfg.home_agent),
        io_(ctx.io),
        store_(ctx.store),
        writer_(ctx.writer),
        devices_(ctx.devices),
        keys_(ctx.devices, cfg_.key_cache_seconds),
        core_(policy(cfg_), [this](std::uint32_t home) { return keys_.find(home, now()); }),
        per_source_(cfg_.per_source_per_minute, cfg_.per_source_burst),
        socket_(ctx.io),
        sweep_timer_(ctx.io) {
    metrics().gauge("mobix_mip_bindings", "Mobile IP bindings with a care-of address (RFC 5944 3.8.3)",
                    [this] { return static_cast<double>(live_.load()); });
  }

  void start() override {
    core_.load(store_.load_mobility_bindings());
    live_ = core_.live();
    udp::endpoint e(asio::ip::make_address(cfg_.listen.host), cfg_.listen.port);
    boost::system::error_code ec;
    socket_.open(e.protocol(), ec);
    if (!ec) socket_.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
    if (!ec) socket_.bind(e, ec);
    if (ec) throw_listen_error("home_agent", cfg_.listen, ec);
    asio::co_spawn(io_, receive_loop(), asio::detached);
    schedule_sweep();
    spdlog::info("home_agent: listening on {} as {} ({} bindings loaded)", local_endpoint().str(),
                 cfg_.address, core_.live());
  }
  /// Registrations are still answered while the node drains: a mobility manager of the same node
  /// deregisters its devices then. The socket closes with the role.
  void stop() override {
    stopping_ = true;
    sweep_timer_.cancel();
  }
  ~HomeAgentRole() override {
    boost::system::error_code ec;
    socket_.close(ec);
  }
  bool drained() const override { return in_flight_ == 0; }
  void listeners(Listeners& out) const override { out["home_agent.mip"] = {local_endpoint(), "mip/udp"}; }

 private:
  static mip::HomeAgentPolicy policy(const HomeAgentConfig& c) {
    return {*mip::ipv4_from_string(c.address), static_cast<std::uint16_t>(c.max_lifetime), c.replay_window,
            c.max_bindings};
  }
  static std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }
  Endpoint local_endpoint() const {
    boost::system::error_code ec;
    auto e = socket_.local_endpoint(ec);
    return ec ? cfg_.listen : Endpoint{e.address().to_string(), e.port()};
  }

  asio::awaitable<void> receive_loop() {
    std::array<std::uint8_t, mip::kMaxMessageSize + 1> buf;
    udp::endpoint from;
    for (;;) {
      auto [ec, n] =
          co_await socket_.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (!socket_.is_open() || ec == asio::error::operation_aborted) co_return;
      if (ec) continue;
      handle(std::span<const std::uint8_t>(buf.data(), n), from);
    }
  }

  void handle(std::span<const std::uint8_t> datagram, const udp::endpoint& from) {
    const auto source = from.address().to_string();
    if (!per_source_.take(source)) {
      count("rate_limited");
      log_limited("rate_limited", "home_agent: {} sends more than {} requests a minute; dropped", source,
                  cfg_.per_source_per_minute);
      return;
    }
    if (devices_.blocking()) {
      auto home = mip::peek_home_address(datagram);
      if (home && !keys_.cached(*home, now())) return await_key(*home, datagram, from);
    }
    decide(datagram, from);
  }

  /// With LDAP as the directory a key lookup waits on the network. Requests for a home address not
  /// in the cache wait in a bounded queue while a pool thread asks (one lookup per address), so the
  /// event loop keeps answering every cached device meanwhile.
  void await_key(std::uint32_t home, std::span<const std::uint8_t> datagram, const udp::endpoint& from) {
    auto [it, first] = waiting_.try_emplace(home);
    if (waiting_total_ >= kMaxWaiting || it->second.size() >= kMaxWaitingPerHome) {
      if (first) waiting_.erase(it);
      count("lookup_queue_full");
      log_limited("lookup_queue_full", "home_agent: {} requests wait for the directory; one from {} dropped",
                  waiting_total_, from.address().to_string());
      return;
    }
    it->second.push_back({{datagram.begin(), datagram.end()}, from});
    ++waiting_total_;
    if (!first) return;
    ++in_flight_;
    asio::post(lookups_, [this, home, alive = std::weak_ptr<int>(alive_)] {
      std::optional<mip::SecurityAssociation> sa;
      std::string error;
      try {
        sa = keys_.read(home);
      } catch (const std::exception& e) {
        error = e.what();
      }
      asio::post(io_, [this, home, alive, sa = std::move(sa), error] {
        if (alive.expired()) return;
        --in_flight_;
        key_arrived(home, sa, error);
      });
    });
  }

  void key_arrived(std::uint32_t home, const std::optional<mip::SecurityAssociation>& sa,
                   const std::string& error) {
    auto waiting = waiting_.extract(home);
    if (waiting.empty()) return;
    waiting_total_ -= waiting.mapped().size();
    if (!error.empty()) {  // the directory is down: unanswered, the node retransmits
      for (std::size_t i = 0; i < waiting.mapped().size(); ++i) count("store_unavailable");
      log_limited("store_unavailable", "home_agent: {} request(s) for {} unanswered: {}",
                  waiting.mapped().size(), mip::ipv4_to_string(home), error);
      return;
    }
    keys_.put(home, sa, now());
    for (const auto& w : waiting.mapped()) decide(w.datagram, w.from);
  }

  void decide(std::span<const std::uint8_t> datagram, const udp::endpoint& from) {
    const auto source = from.address().to_string();
    mip::Verdict v;
    try {
      v = core_.decide(datagram, now());
    } catch (
        const std::exception& e) {  // the store is unreachable for a key: unanswered, the node retransmits
      count("store_unavailable");
      log_limited("store_unavailable", "home_agent: request from {} unanswered: {}", source, e.what());
      return;
    }
    if (v.action == mip::Verdict::Action::drop) {
      count(v.reason);
      log_limited(v.reason, "home_agent: dropped a datagram from {}: {}", source, v.reason);
      return;
    }
    if (!v.write) return answer(v, from);
    live_ = core_.live();
    commit(std::move(v), from);
  }

  /// The binding is durable before the node hears it is registered (seed 003, kill -9 safe).
  void commit(mip::Verdict v, const udp::endpoint& from) {
    auto before = core_.current(v.write->home_address);
    Change c{Change::Kind::put_mobility_binding, {}, {}};
    c.binding = *v.write;
    ++in_flight_;
    writer_.submit(
        {c}, [this, v = std::move(v), from, before](StoreWriter::Outcome o, Refused refused) mutable {
          asio::post(io_, [this, v = std::move(v), from, before, o, refused = std::move(refused)] {
            --in_flight_;
            if (o == StoreWriter::Outcome::committed) return answer(v, from);
            core_.undo(*v.write, before);
            live_ = core_.live();
            if (o == StoreWriter::Outcome::binding_superseded) {
              // Another Home Agent node on the shared store accepted a later registration: this
              // one is a replay there or arrived late (RFC 5944 5.7 across nodes).
              std::optional<MobilityBinding> stored;
              if (!refused.bindings.empty() && refused.bindings.front().care_of != "?")
                stored = refused.bindings.front();
              answer(core_.superseded(v, stored, now()), from);
              live_ = core_.live();
              return;
            }
            count("store_failed");
            log_limited("store_failed",
                        "home_agent: binding of {} not written; {} is not answered (it retransmits)",
                        v.write->home_address, from.address().to_string());
          });
        });
  }

  void answer(const mip::Verdict& v, const udp::endpoint& to) {
    const auto home = mip::ipv4_to_string(v.reply.home_address);
    if (mip::accepted(v.reply.code)) {
      count(v.reason);
      spdlog::debug("home_agent: {} {} care-of {} for {} s", home, v.reason,
                    v.write ? v.write->care_of : std::string(), v.reply.lifetime);
    } else {
      count(v.reason);
      log_limited(v.reason, "home_agent: refused {} from {}: {} (code {}, {})", home,
                  to.address().to_string(), v.reason, static_cast<int>(v.reply.code),
                  mip::to_string(v.reply.code));
    }
    auto bytes = v.sa ? mip::encode_reply(v.reply, *v.sa) : unauthenticated(v.reply);
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(bytes), to, 0, ec);
  }

  /// A refusal for a home address with no security association carries no authenticator.
  static std::vector<std::uint8_t> unauthenticated(const mip::Reply& r) {
    auto bytes = mip::encode_reply(r, mip::SecurityAssociation{0, {0}});
    bytes.resize(mip::kReplySize);
    return bytes;
  }

  static void count(const std::string& reason) {
    metrics()
        .counter("mobix_mip_requests_total", "Mobile IP Registration Requests by outcome (RFC 5944 3.8)",
                 "outcome=\"" + reason + "\"")
        .inc();
  }
  template <typename... Args>
  void log_limited(const std::string& key, fmt::format_string<Args...> f, Args&&... args) {
    auto suppressed = log_limit_.allow(key);
    if (suppressed < 0) return;
    auto line = fmt::format(f, std::forward<Args>(args)...);
    if (suppressed) line += fmt::format(" ({} similar suppressed)", suppressed);
    spdlog::warn("{}", line);
  }

  void schedule_sweep() {
    sweep_timer_.expires_after(std::chrono::seconds(1));
    sweep_timer_.async_wait([this](boost::system::error_code ec) {
      if (ec || stopping_) return;
      if (auto n = core_.sweep(now())) {
        metrics()
            .counter("mobix_mip_bindings_expired_total", "Mobile IP bindings whose lifetime ran out")
            .inc(n);
        spdlog::info("home_agent: {} binding(s) expired", n);
      }
      live_ = core_.live();
      schedule_sweep();
    });
  }

  const HomeAgentConfig& cfg_;
  asio::io_context& io_;
  Store& store_;
  StoreWriter& writer_;
  DeviceRepository& devices_;
  KeyCache keys_;
  mip::HomeAgentCore core_;
  net::TokenBuckets per_source_;
  udp::socket socket_;
  asio::steady_timer sweep_timer_;
  LogRateLimiter log_limit_{5};
  std::atomic<std::size_t> live_{0};
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
  static constexpr std::size_t kMaxWaiting = 4096;      ///< requests waiting for the directory, in all
  static constexpr std::size_t kMaxWaitingPerHome = 8;  ///< a node's retransmissions, a few at most
  std::unordered_map<std::uint32_t, std::vector<WaitingRequest>> waiting_;
  std::size_t waiting_total_ = 0;
  std::shared_ptr<int> alive_ =
      std::make_shared<int>(0);   ///< lookups finishing after the role ended see it gone
  asio::thread_pool lookups_{2};  ///< last member: joined first, while what its threads read still exists
};

}  // namespace

std::unique_ptr<Role> make_home_agent_role(RoleContext& ctx) {
  return std::make_unique<HomeAgentRole>(ctx);
}

}  // namespace mobix
