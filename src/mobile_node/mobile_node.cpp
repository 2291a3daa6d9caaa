#include "mobile_node/mobile_node.hpp"

#include <ctime>

#include <openssl/rand.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mobix::mip {

namespace asio = boost::asio;
using udp = asio::ip::udp;

const char* to_string(Exchange::Result r) {
  switch (r) {
    case Exchange::Result::replied:
      return "replied";
    case Exchange::Result::unauthenticated:
      return "unauthenticated";
    case Exchange::Result::timed_out:
      return "timed_out";
  }
  return "unknown";
}

/// A request waiting for its reply; the receive loop fills `reply` and cancels `wake`.
struct RegistrationClient::Pending {
  explicit Pending(asio::any_io_executor ex) : wake(ex) {}
  asio::steady_timer wake;
  const SecurityAssociation* sa = nullptr;
  std::uint64_t identification = 0;
  std::optional<Reply> reply;
  std::optional<Reply> unauthenticated;
};

RegistrationClient::RegistrationClient(asio::io_context& io, udp::endpoint local) : socket_(io) {
  socket_.open(local.protocol());
  socket_.bind(local);
  asio::co_spawn(io, receive_loop(), asio::detached);
}

RegistrationClient::~RegistrationClient() {
  close();
}

void RegistrationClient::close() {
  closed_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
}

asio::awaitable<void> RegistrationClient::receive_loop() {
  std::array<std::uint8_t, kMaxMessageSize + 1> buf;
  udp::endpoint from;
  while (!closed_) {
    auto [ec, n] =
        co_await socket_.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
    if (closed_ || ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    std::span<const std::uint8_t> raw(buf.data(), n);
    auto d = decode_reply(raw);
    auto* reply = std::get_if<Decoded<Reply>>(&d);
    if (!reply) continue;
    const auto& m = reply->message;
    auto it = pending_.find({m.home_address, static_cast<std::uint32_t>(m.identification)});
    if (it == pending_.end()) continue;
    Pending& p = *it->second;
    // RFC 5944 3.6.2.1: only an authenticated reply counts; a refusal other than 133 must carry the
    // request's whole identification.
    bool authentic = reply->mobile_home && reply->mobile_home->spi == p.sa->spi &&
                     verify(raw, *reply->mobile_home, p.sa->key);
    bool same_id = m.code == Code::identification_mismatch || m.identification == p.identification;
    if (!authentic || !same_id) {
      p.unauthenticated = m;
      continue;
    }
    p.reply = m;
    p.wake.cancel();
  }
}

asio::awaitable<Exchange> RegistrationClient::exchange(udp::endpoint home_agent, Request r,
                                                       SecurityAssociation sa, Retransmit retransmit) {
  auto ex = co_await asio::this_coro::executor;
  Pending p(ex);
  p.sa = &sa;
  p.identification = r.identification;
  auto key = std::make_pair(r.home_address, static_cast<std::uint32_t>(r.identification));
  pending_[key] = &p;
  auto bytes = encode_request(r, sa);
  Exchange out;
  auto wait = retransmit.first;
  for (unsigned i = 0; i < retransmit.attempts && !p.reply && !closed_; ++i) {
    boost::system::error_code ec;
    socket_.send_to(asio::buffer(bytes), home_agent, 0, ec);
    ++out.attempts;
    p.wake.expires_after(wait);
    co_await p.wake.async_wait(asio::as_tuple(asio::use_awaitable));
    wait *= 2;
  }
  pending_.erase(key);
  if (p.reply) {
    out.result = Exchange::Result::replied;
    out.reply = *p.reply;
  } else if (p.unauthenticated) {
    out.result = Exchange::Result::unauthenticated;
    out.reply = *p.unauthenticated;
  }
  co_return out;
}

MobileNode::MobileNode(RegistrationClient& client, Settings s, Clock clock)
    : client_(client), s_(std::move(s)), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return static_cast<std::int64_t>(std::time(nullptr)); };
}

std::uint64_t MobileNode::next_identification() {
  std::uint32_t nonce = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&nonce), sizeof nonce);
  auto id = timestamp_identification(clock_() + offset_, nonce);
  // Two registrations in one second: still strictly increasing (the Home Agent refuses equal ones).
  if (id <= last_id_) id = ((last_id_ & ~std::uint64_t{0xffffffff}) + (std::uint64_t{1} << 32)) | nonce;
  last_id_ = id;
  return id;
}

asio::awaitable<Exchange> MobileNode::register_from(std::uint32_t care_of, std::uint16_t lifetime) {
  Exchange out;
  for (int round = 0; round < 2; ++round) {
    Request r{s_.flags, lifetime, s_.home_address, s_.home_agent, care_of, next_identification()};
    out = co_await client_.exchange(s_.home_agent_endpoint, r, s_.sa, s_.retransmit);
    if (out.result != Exchange::Result::replied || out.reply.code != Code::identification_mismatch) break;
    // RFC 5944 5.7: the reply's high 32 bits are the Home Agent's clock.
    offset_ = identification_unix_seconds(out.reply.identification) - clock_();
  }
  co_return out;
}

asio::awaitable<Exchange> MobileNode::deregister() {
  return register_from(s_.home_address, 0);
}

std::chrono::seconds MobileNode::renew_after(std::uint16_t lifetime) {
  auto at = std::chrono::seconds(lifetime * 8 / 10);
  if (lifetime > 1 && std::chrono::seconds(lifetime) - at < std::chrono::seconds(1))
    at = std::chrono::seconds(lifetime - 1);
  return std::max(at, std::chrono::seconds(1));
}

}  // namespace mobix::mip
