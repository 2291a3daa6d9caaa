#include "cb/line_radio.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "smpp/esme.hpp"

namespace mobix::cb {

namespace asio = boost::asio;

std::string sms_address(std::string line) {
  if (!line.empty() && line.front() == '+') line.erase(0, 1);
  return line;
}

LineRadio::LineRadio(asio::io_context& io, Endpoint smsc, std::string system_id, std::string password)
    : io_(io), smsc_(std::move(smsc)), system_id_(std::move(system_id)), password_(std::move(password)) {}

LineRadio::~LineRadio() = default;

std::string LineRadio::range() const {
  // The longest prefix every line shares: the SMSC delivers to a receiver whose range prefixes the
  // destination, so one bind covers the fleet without taking other receivers' messages.
  if (lines_.empty()) return {};
  auto prefix = lines_.begin()->first;
  for (const auto& [line, _] : lines_) {
    std::size_t n = 0;
    while (n < prefix.size() && n < line.size() && prefix[n] == line[n]) ++n;
    prefix.resize(n);
  }
  return prefix;
}

void LineRadio::tune(std::string line, Listener on_message) {
  line = sms_address(std::move(line));
  lines_[line] = std::move(on_message);
  if (!running_) {
    running_ = true;
    asio::co_spawn(io_, receive_loop(), asio::detached);
  } else if (line.rfind(bound_range_, 0) != 0) {
    rebind_ = true;  // this line is outside the bound range: bind again with a wider one
    if (esme_) esme_->close();
  }
}

void LineRadio::stop() {
  stopping_ = true;
  if (esme_) esme_->close();
}

asio::awaitable<void> LineRadio::receive_loop() {
  while (!stopping_) {
    rebind_ = false;
    bound_range_ = range();
    smpp::EsmeConfig ec{smsc_, system_id_, password_, "", smpp::BindMode::receiver, bound_range_};
    esme_ = std::make_unique<smpp::Esme>(io_.get_executor(), ec);
    auto bound = co_await esme_->bind();
    if (bound) {
      spdlog::info("line radio: receiving for {} line(s) on {}*", lines_.size(), bound_range_);
      // Named, not a temporary, across co_await (docs/design.md: GCC 12 coroutines).
      smpp::Esme::DeliverHandler on_deliver = [this](const smpp::ShortMessage& m) {
        auto it = lines_.find(sms_address(m.destination_addr));
        if (it == lines_.end()) {
          spdlog::info("line radio: a message for {}, which no box here answers", m.destination_addr);
          return;
        }
        auto payload = m.payload();
        it->second(std::string(payload.begin(), payload.end()));
      };
      co_await esme_->receive(on_deliver);
    } else {
      spdlog::warn("line radio: cannot bind to the SMSC {}: {}", smsc_.str(), bound.error);
    }
    if (stopping_) break;
    if (!rebind_) {
      asio::steady_timer pause(io_, std::chrono::seconds(2));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }
  running_ = false;
}

}  // namespace mobix::cb
