#include "smpp/esme.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"
#include "smpp/pdu_io.hpp"

namespace mobix::smpp {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Esme::Impl {
  EsmeConfig cfg;
  tcp::socket sock;
  std::uint32_t next_sequence = 1;
  DeliverHandler on_deliver;
  std::size_t delivered = 0;

  Impl(asio::any_io_executor ex, EsmeConfig c) : cfg(std::move(c)), sock(ex) {}

  std::uint32_t sequence() {
    auto s = next_sequence++;
    if (next_sequence > 0x7FFFFFFF) next_sequence = 1;  // section 3.2: 0x00000001..0x7FFFFFFF
    return s;
  }

  // Handles a PDU the SMSC sent on its own; false when the connection must end.
  // Every PDU is a named local before co_await: GCC 12 mishandles temporaries in co_await operands.
  asio::awaitable<bool> handle_unsolicited(const Pdu& p) {
    if (p.command_id == cmd::deliver_sm) {
      Pdu resp = response_to(p, status::ok);
      bool sent = co_await write_pdu(sock, resp);
      if (!sent) co_return false;
      ++delivered;
      if (on_deliver) on_deliver(std::get<ShortMessage>(p.body));
      co_return true;
    }
    if (p.command_id == cmd::enquire_link || p.command_id == cmd::unbind) {
      Pdu resp = response_to(p, status::ok);
      bool sent = co_await write_pdu(sock, resp);
      co_return sent&& p.command_id != cmd::unbind;
    }
    if (!(p.command_id & cmd::response_bit)) {
      Pdu nack{cmd::generic_nack, status::invalid_command_id, p.sequence_number, {}};
      bool sent = co_await write_pdu(sock, nack);
      co_return sent;
    }
    co_return true;  // a late response: ignore
  }

  // Sends `req` and waits for its response, serving anything else that arrives meanwhile;
  // nullopt with `error` set when the connection failed.
  asio::awaitable<std::optional<Pdu>> request(Pdu req, std::string& error) {
    req.sequence_number = sequence();
    if (!co_await write_pdu(sock, req)) {
      error = "smpp: cannot write to the SMSC";
      co_return std::nullopt;
    }
    for (;;) {
      auto r = co_await read_pdu(sock, cfg.timeout);
      if (r.closed) {
        error = "smpp: the SMSC closed the connection or did not answer";
        co_return std::nullopt;
      }
      if (!r.pdu) continue;  // undecodable PDU from the SMSC: skip it
      const auto& p = *r.pdu;
      if (p.sequence_number == req.sequence_number &&
          (p.command_id == (req.command_id | cmd::response_bit) || p.command_id == cmd::generic_nack))
        co_return p;
      if (!co_await handle_unsolicited(p)) {
        error = "smpp: the SMSC ended the session";
        co_return std::nullopt;
      }
    }
  }
};

Esme::Esme(asio::any_io_executor ex, EsmeConfig cfg) : impl_(std::make_unique<Impl>(ex, std::move(cfg))) {}
Esme::~Esme() = default;

asio::awaitable<SmppResult> Esme::bind() {
  auto& m = *impl_;
  SmppResult out;
  // SMPP 3.4 5.2.1/5.2.2: system_id at most 15 octets, password at most 8; longer ones would not
  // encode, and the bind would wait for an answer that never comes.
  if (m.cfg.system_id.size() > 15 || m.cfg.password.size() > 8) {
    out.error = "smpp: system_id is at most 15 characters and the password at most 8 (SMPP 3.4)";
    co_return out;
  }
  tcp::resolver resolver(m.sock.get_executor());
  auto port = std::to_string(m.cfg.smsc.port);
  auto [rec, results] =
      co_await resolver.async_resolve(m.cfg.smsc.host, port, asio::as_tuple(asio::use_awaitable));
  if (rec) {
    out.error = "smpp: cannot resolve " + m.cfg.smsc.str() + ": " + rec.message();
    co_return out;
  }
  auto [cec, ep] = co_await asio::async_connect(m.sock, results, asio::as_tuple(asio::use_awaitable));
  if (cec) {
    out.error = "smpp: cannot connect to " + m.cfg.smsc.str() + ": " + cec.message();
    co_return out;
  }
  boost::system::error_code ignore;
  m.sock.set_option(tcp::no_delay(true), ignore);  // one small PDU at a time: no Nagle delay
  Pdu req;
  req.command_id = m.cfg.mode == BindMode::transmitter ? cmd::bind_transmitter
                   : m.cfg.mode == BindMode::receiver  ? cmd::bind_receiver
                                                       : cmd::bind_transceiver;
  Bind b;
  b.system_id = m.cfg.system_id;
  b.password = m.cfg.password;
  b.system_type = m.cfg.system_type;
  b.address_range = m.cfg.address_range;
  req.body = b;
  auto resp = co_await m.request(req, out.error);
  if (!resp) co_return out;
  if (resp->command_status != status::ok) {
    out.status = resp->command_status;
    out.error = fmt::format("smpp: bind as {} refused by {} (status 0x{:08X})", m.cfg.system_id,
                            m.cfg.smsc.str(), resp->command_status);
    co_return out;
  }
  spdlog::info("smpp: bound to {} as {}", m.cfg.smsc.str(), m.cfg.system_id);
  co_return out;
}

asio::awaitable<SmppResult> Esme::submit(ShortMessage msg) {
  // Copies, not std::move(msg): GCC 12 double-frees a moved coroutine parameter.
  Pdu req{cmd::submit_sm, status::ok, 0, msg};
  SmppResult out;
  auto resp = co_await impl_->request(req, out.error);
  if (!resp) co_return out;
  if (resp->command_status != status::ok) {
    out.status = resp->command_status;
    out.error = fmt::format("smpp: submit_sm refused (status 0x{:08X})", resp->command_status);
    co_return out;
  }
  metrics().counter("mobix_smpp_submitted_total", "Short messages accepted by the SMSC").inc();
  if (auto* id = std::get_if<IdResponse>(&resp->body)) out.message_id = id->id;
  co_return out;
}

asio::awaitable<std::size_t> Esme::receive(DeliverHandler on_deliver, std::size_t count) {
  auto& m = *impl_;
  m.on_deliver = on_deliver;  // not std::move: see submit()
  m.delivered = 0;
  while (count == 0 || m.delivered < count) {
    auto r = co_await read_pdu(m.sock, std::chrono::hours(24));
    if (r.closed) break;
    if (!r.pdu) {
      Pdu nack{cmd::generic_nack, status::invalid_command_length, r.sequence, {}};
      co_await write_pdu(m.sock, nack);
      continue;
    }
    if (!co_await m.handle_unsolicited(*r.pdu)) break;
  }
  co_return m.delivered;
}

asio::awaitable<SmppResult> Esme::enquire_link() {
  Pdu req{cmd::enquire_link, status::ok, 0, {}};
  SmppResult out;
  auto resp = co_await impl_->request(req, out.error);
  if (resp && resp->command_status != status::ok) {
    out.status = resp->command_status;
    out.error = "smpp: enquire_link refused";
  }
  co_return out;
}

asio::awaitable<void> Esme::unbind() {
  Pdu req{cmd::unbind, status::ok, 0, {}};
  std::string ignored;
  auto resp = co_await impl_->request(req, ignored);
  boost::system::error_code ignore;
  impl_->sock.shutdown(tcp::socket::shutdown_both, ignore);
  impl_->sock.close(ignore);
  (void)resp;
}

}  // namespace mobix::smpp

namespace mobix::smpp {
void Esme::close() {
  boost::system::error_code ignore;
  impl_->sock.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignore);
  impl_->sock.close(ignore);
}
}  // namespace mobix::smpp
