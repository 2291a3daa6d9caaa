#include "roaming/visited_side.hpp"

#include <algorithm>
#include <chrono>
#include <deque>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/hex.hpp"
#include "core/metrics.hpp"

namespace mobix::roaming {

namespace asio = boost::asio;

namespace {
constexpr std::string_view kHostClassPrefix = "mobix-host:";
}

std::string host_class(std::string_view hostname) {
  return std::string(kHostClassPrefix) + std::string(hostname);
}

std::optional<std::string> hostname_from_class(std::string_view cls) {
  if (!cls.starts_with(kHostClassPrefix)) return std::nullopt;
  return std::string(cls.substr(kHostClassPrefix.size()));
}

struct VisitedSide::Outbox {
  std::unique_ptr<RadsecClient> client;
  std::deque<OutboxRecord> queue;  ///< accounting for the home network, in order
  bool delivering = false;
};

VisitedSide::VisitedSide(asio::io_context& io, const RoamingConfig& cfg, Clock clock, std::string node,
                         Forget forget)
    : io_(io), clock_(std::move(clock)), node_(std::move(node)), forget_(std::move(forget)) {
  for (const auto& p : cfg.partners)
    if (p.server) {
      auto out = std::make_unique<Outbox>();
      out->client = std::make_unique<RadsecClient>(io, cfg, p);
      outboxes_[p.name] = std::move(out);
    }
  // The gauge outlives this object in the registry: it reads a count it shares, not the queues.
  metrics().gauge("mobix_roaming_outbox_pending", "Accounting-Requests waiting for home networks (seed 002)",
                  [count = pending_count_] { return static_cast<double>(count->load()); });
}

VisitedSide::~VisitedSide() = default;

RadsecClient* VisitedSide::home(const RoamingPartnerConfig* partner) {
  if (!partner) return nullptr;
  auto it = outboxes_.find(partner->name);
  return it == outboxes_.end() ? nullptr : it->second->client.get();
}

asio::awaitable<std::optional<radius::Packet>> VisitedSide::ask_home(RadsecClient& home,
                                                                     const radius::Packet& req,
                                                                     std::string pap_password) {
  radius::Packet fwd;
  fwd.code = radius::Code::access_request;
  for (const auto& a : req.attributes)
    if (a.type != radius::attr::user_password && a.type != radius::attr::message_authenticator)
      fwd.attributes.push_back(a);
  // CHAP without CHAP-Challenge uses the Request Authenticator, which changes hop by hop.
  if (req.find(radius::attr::chap_password) && !req.find(radius::attr::chap_challenge))
    fwd.add(radius::attr::chap_challenge, req.authenticator);
  co_return co_await home.exchange(fwd, std::move(pap_password));
}

OutboxRecord VisitedSide::accounting_record(const RoamingPartnerConfig& partner, const SessionRecord& s,
                                            radius::AcctStatus status) {
  radius::Packet p;
  p.code = radius::Code::accounting_request;
  p.add_integer(radius::attr::acct_status_type, static_cast<std::uint32_t>(status));
  p.add_text(radius::attr::acct_session_id, s.acct_session_id);
  p.add_text(radius::attr::user_name, s.username);
  if (!s.ipv4.empty()) p.add_ipv4(radius::attr::framed_ip_address, s.ipv4);
  if (!s.msisdn.empty()) p.add_text(radius::attr::calling_station_id, s.msisdn);
  const auto now = clock_();
  p.add_integer(radius::attr::event_timestamp, static_cast<std::uint32_t>(now));
  // Ordered within this node: milliseconds shifted, never going back (also across a restart: the
  // records loaded from the store raise last_seq_).
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  last_seq_ = std::max(last_seq_ + 1, static_cast<std::int64_t>(ms) << 16);
  return OutboxRecord{node_, partner.name, last_seq_, encode_hex(radius::encode(p)), now};
}

void VisitedSide::deliver(std::vector<OutboxRecord> records) {
  for (auto& r : records) {
    last_seq_ = std::max(last_seq_, r.seq);
    auto it = outboxes_.find(r.partner);
    if (it == outboxes_.end()) {
      spdlog::warn("roaming: accounting queued for {} dropped: no longer a partner with a server", r.partner);
      if (forget_) forget_(r);
      continue;
    }
    it->second->queue.push_back(std::move(r));
    ++*pending_count_;
  }
  for (auto& [name, out] : outboxes_)
    if (!out->queue.empty() && !out->delivering && !stopping_) {
      out->delivering = true;
      asio::co_spawn(io_, deliver_loop(*out), asio::detached);
    }
}

std::size_t VisitedSide::pending() const {
  std::size_t n = 0;
  for (const auto& [name, out] : outboxes_) n += out->queue.size();
  return n;
}

void VisitedSide::stop() {
  stopping_ = true;
}

asio::awaitable<void> VisitedSide::deliver_loop(Outbox& out) {
  auto backoff = std::chrono::milliseconds(200);
  const auto& name = out.client->partner().name;
  auto& sent = metrics().counter("mobix_roaming_accounting_forwarded_total",
                                 "Accounting-Requests delivered to home networks",
                                 fmt::format("partner=\"{}\"", name));
  auto& failed = metrics().counter("mobix_roaming_accounting_retries_total",
                                   "Accounting-Requests to home networks that must be retried",
                                   fmt::format("partner=\"{}\"", name));
  while (!out.queue.empty() && !stopping_) {
    const auto record = out.queue.front();
    auto raw = decode_hex(record.packet_hex);
    auto packet = raw ? radius::decode(*raw) : radius::decode({});
    if (!packet) {  // written by this code, so only a damaged row: never blocks the queue
      spdlog::error("roaming: outbox record {} for {} cannot be decoded; dropped", record.seq, name);
      out.queue.pop_front();
      --*pending_count_;
      if (forget_) forget_(record);
      continue;
    }
    auto answer = co_await out.client->exchange(*packet, std::string());
    if (answer && answer->code == radius::Code::accounting_response) {
      out.queue.pop_front();
      --*pending_count_;
      if (forget_) forget_(record);
      sent.inc();
      backoff = std::chrono::milliseconds(200);
      continue;
    }
    failed.inc();
    spdlog::warn("roaming: accounting for home network {} not delivered; {} waiting, retry in {} ms", name,
                 out.queue.size(), backoff.count());
    asio::steady_timer t(io_, backoff);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(30000));
  }
  out.delivering = false;
}

}  // namespace mobix::roaming
