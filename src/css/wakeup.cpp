#include "css/wakeup.hpp"

#include <chrono>
#include <deque>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "codec/cb/cb_protocol.hpp"
#include "core/metrics.hpp"
#include "net/token_buckets.hpp"
#include "smpp/esme.hpp"

namespace mobix {

namespace asio = boost::asio;

struct WakeupSender::Impl {
  asio::io_context& io;
  const CssConfig& cfg;
  std::unique_ptr<smpp::Esme> esme;
  bool busy = false;  ///< one submit at a time on the bind (SMPP requests here are sequential)
  std::deque<std::shared_ptr<asio::steady_timer>> waiting;  ///< their turn comes in order
  std::chrono::steady_clock::time_point next_slot{};
  net::TokenBuckets per_line{3.0, 3.0};  // a line: 3 at once, 3 a minute

  Impl(asio::io_context& i, const CssConfig& c) : io(i), cfg(c) {}

  asio::awaitable<void> take_turn() {
    if (!busy) {
      busy = true;
      co_return;
    }
    auto t = std::make_shared<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    waiting.push_back(t);
    co_await t->async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled: our turn (busy stays set)
  }
  void end_turn() {
    if (waiting.empty()) {
      busy = false;
      return;
    }
    auto next = waiting.front();
    waiting.pop_front();
    next->cancel();
  }

  Counter& outcome(const char* what) {
    return metrics().counter("mobix_css_wakeups_total", "Wake-up SMS asked for, by outcome",
                             std::string("outcome=\"") + what + "\"");
  }

  asio::awaitable<bool> submit(const std::string& line_id, const std::string& cb_id) {
    smpp::ShortMessage m;
    m.source_addr = cfg.wakeup_source;
    m.dest_addr_ton = 1;
    m.dest_addr_npi = 1;
    m.destination_addr = line_id;
    auto text = cbproto::wakeup_text(cb_id);
    m.short_message.assign(text.begin(), text.end());
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!esme) {
        smpp::EsmeConfig ec{cfg.wakeup_smsc.smsc,        cfg.wakeup_smsc.system_id,
                            cfg.wakeup_smsc.password,    "",
                            smpp::BindMode::transmitter, ""};
        esme = std::make_unique<smpp::Esme>(io.get_executor(), ec);
        auto bound = co_await esme->bind();
        if (!bound) {
          spdlog::warn("css: wake-up: cannot bind to the SMSC {}: {}", cfg.wakeup_smsc.smsc.str(),
                       bound.error);
          esme.reset();
          continue;
        }
      }
      auto sent = co_await esme->submit(m);
      if (sent) co_return true;
      spdlog::warn("css: wake-up SMS to {} failed: {}", line_id, sent.error);
      esme.reset();  // bind again once
    }
    co_return false;
  }
};

WakeupSender::WakeupSender(asio::io_context& io, const CssConfig& cfg)
    : impl_(std::make_shared<Impl>(io, cfg)) {}
WakeupSender::~WakeupSender() = default;
void WakeupSender::start() {}
void WakeupSender::stop() {
  if (impl_->esme) impl_->esme->close();
  for (auto& t : impl_->waiting) t->cancel();
}

asio::awaitable<WakeupSender::Outcome> WakeupSender::wake(std::string line_id, std::string cb_id) {
  auto m = impl_;  // alive while this coroutine runs
  if (!m->per_line.take(line_id)) {
    m->outcome("rate_limited").inc();
    spdlog::warn("css: wake-up of {} on {} refused: too many for this line", cb_id, line_id);
    co_return Outcome::rate_limited;
  }
  // Wait for the bind and for this SMS's slot: at most per_second leave per second.
  co_await m->take_turn();
  auto now = std::chrono::steady_clock::now();
  if (m->next_slot > now) {
    asio::steady_timer pace(m->io, m->next_slot);
    co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  m->next_slot = std::max(now, m->next_slot) + std::chrono::microseconds(1000000 / m->cfg.wakeups_per_second);
  auto ok = co_await m->submit(line_id, cb_id);
  m->end_turn();
  m->outcome(ok ? "sent" : "failed").inc();
  if (ok) spdlog::info("css: wake-up SMS sent to {} for {}", line_id, cb_id);
  co_return ok ? Outcome::sent : Outcome::failed;
}

}  // namespace mobix
