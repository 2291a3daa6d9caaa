#include "lab/lab_smsc.hpp"

#include <deque>
#include <list>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "core/metrics.hpp"
#include "smpp/pdu_io.hpp"

namespace mobix::smpp {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

Counter& pdus(const char* what) {
  return metrics().counter("mobix_lab_smsc_pdus_total", "PDUs handled by the lab SMSC, by outcome",
                           std::string("outcome=\"") + what + "\"");
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// One bound (or binding) connection, with a queue so deliveries from other sessions and the
// session's own responses never interleave on the socket.
struct Peer {
  tcp::socket sock;
  asio::steady_timer wake;
  std::deque<std::vector<std::uint8_t>> outbox;
  std::string system_id;
  std::string address_range;
  bool receives = false;
  bool open = true;
  std::uint32_t next_sequence = 1;
  explicit Peer(tcp::socket s) : sock(std::move(s)), wake(sock.get_executor()) {
    boost::system::error_code ignore;
    sock.set_option(tcp::no_delay(true), ignore);
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  void send(const Pdu& p) {
    outbox.push_back(encode(p));
    wake.cancel_one();
  }
};

asio::awaitable<void> writer(std::shared_ptr<Peer> peer) {
  while (peer->open) {
    if (peer->outbox.empty()) {
      co_await peer->wake.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    auto wire = std::move(peer->outbox.front());
    peer->outbox.pop_front();
    auto [ec, n] =
        co_await asio::async_write(peer->sock, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    if (ec) peer->open = false;
  }
}

}  // namespace

struct LabSmsc::Impl {
  SmscConfig cfg;
  std::list<std::weak_ptr<Peer>> receivers;
  std::deque<ShortMessage> queued;
  std::uint64_t next_message_id = 1;

  explicit Impl(SmscConfig c) : cfg(std::move(c)) {}

  // Delivers to the live receiver whose address_range is the longest prefix of the destination
  // (the most specific route, as in a routing table; the first bound among equals).
  bool route(const ShortMessage& m) {
    std::shared_ptr<Peer> best;
    for (auto it = receivers.begin(); it != receivers.end();) {
      auto p = it->lock();
      if (!p || !p->open) {
        it = receivers.erase(it);
        continue;
      }
      if (m.destination_addr.rfind(p->address_range, 0) == 0 &&
          (!best || p->address_range.size() > best->address_range.size()))
        best = p;
      ++it;
    }
    if (!best) return false;
    best->send(Pdu{cmd::deliver_sm, status::ok, best->next_sequence++, m});
    pdus("delivered").inc();
    return true;
  }

  void flush_queue() {
    for (auto it = queued.begin(); it != queued.end();) it = route(*it) ? queued.erase(it) : std::next(it);
  }

  asio::awaitable<void> session(tcp::socket sock, std::uint64_t id) {
    auto peer = std::make_shared<Peer>(std::move(sock));
    asio::co_spawn(peer->sock.get_executor(), writer(peer), asio::detached);
    bool bound = false;
    for (;;) {
      auto r = co_await read_pdu(peer->sock, std::chrono::seconds(bound ? 300 : 30));
      if (r.closed) break;
      if (!r.pdu) {
        pdus("malformed").inc();
        spdlog::info("lab smsc #{}: malformed PDU: {}", id, to_string(*r.error));
        peer->send(Pdu{cmd::generic_nack, status::invalid_command_length, r.sequence, {}});
        continue;
      }
      const auto& p = *r.pdu;
      if (auto* b = std::get_if<Bind>(&p.body)) {
        auto acct = cfg.accounts.find(b->system_id);
        std::uint32_t st = status::ok;
        if (bound)
          st = status::already_bound;
        else if (acct == cfg.accounts.end())
          st = status::invalid_system_id;
        else if (!same_secret(acct->second, b->password))
          st = status::invalid_password;
        peer->send(response_to(p, st, "mobix-lab-smsc"));
        if (st != status::ok) {
          pdus("bind_refused").inc();
          spdlog::info("lab smsc #{}: bind as {} refused (0x{:08X})", id, b->system_id, st);
          continue;
        }
        bound = true;
        peer->system_id = b->system_id;
        peer->address_range = b->address_range;
        peer->receives = p.command_id != cmd::bind_transmitter;
        pdus("bound").inc();
        spdlog::info("lab smsc #{}: {} bound ({})", id, b->system_id,
                     p.command_id == cmd::bind_transmitter ? "transmitter"
                     : p.command_id == cmd::bind_receiver  ? "receiver"
                                                           : "transceiver");
        if (peer->receives) {
          receivers.push_back(peer);
          flush_queue();
        }
        continue;
      }
      if (p.command_id == cmd::enquire_link) {
        peer->send(response_to(p, status::ok));
        continue;
      }
      if (p.command_id == cmd::unbind) {
        peer->send(response_to(p, status::ok));
        break;
      }
      if (p.command_id & cmd::response_bit) continue;  // deliver_sm_resp and the like
      if (!bound) {
        peer->send(response_to(p, status::incorrect_bind_status));
        continue;
      }
      if (p.command_id == cmd::submit_sm) {
        const auto& m = std::get<ShortMessage>(p.body);
        if (m.destination_addr.empty()) {
          peer->send(response_to(p, status::invalid_dest_addr));
          continue;
        }
        if (!route(m)) {
          if (queued.size() >= cfg.max_queued) {
            pdus("queue_full").inc();
            peer->send(response_to(p, status::throttled));
            continue;
          }
          queued.push_back(m);
          pdus("queued").inc();
        }
        auto mid = fmt::format("lab-{}", next_message_id++);
        peer->send(response_to(p, status::ok, mid));
        pdus("submitted").inc();
        spdlog::info("lab smsc #{}: submit_sm from {} to {} ({} octets): {}", id, peer->system_id,
                     m.destination_addr, m.payload().size(), mid);
        continue;
      }
      peer->send(response_to(p, status::invalid_command_id));
    }
    // Let queued responses (e.g. unbind_resp) go out before closing.
    for (int i = 0; i < 50 && !peer->outbox.empty() && peer->open; ++i) {
      asio::steady_timer t(peer->sock.get_executor(), std::chrono::milliseconds(10));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    peer->open = false;
    peer->wake.cancel();
    boost::system::error_code ignore;
    peer->sock.shutdown(tcp::socket::shutdown_both, ignore);
  }
};

LabSmsc::LabSmsc(asio::io_context& io, SmscConfig cfg) : impl_(std::make_shared<Impl>(std::move(cfg))) {
  service_ = std::make_unique<TcpService>(
      io, "lab-smsc", impl_->cfg.listen,
      [impl = impl_](tcp::socket s, std::uint64_t id) { return impl->session(std::move(s), id); });
}
LabSmsc::~LabSmsc() = default;
void LabSmsc::start() {
  service_->start();
}
void LabSmsc::stop() {
  service_->stop();
}
bool LabSmsc::drained() const {
  return service_->drained();
}
Endpoint LabSmsc::local_endpoint() const {
  return service_->local_endpoint();
}

}  // namespace mobix::smpp
