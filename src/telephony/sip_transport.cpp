#include "telephony/sip_transport.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

namespace mobix::telephony {

namespace asio = boost::asio;

namespace {
constexpr std::chrono::seconds kWriteDeadline{10};
}

SipStream::SipStream(asio::ip::tcp::socket accepted) : conn_(std::move(accepted)) {}

bool SipStream::send(std::string text) {
  if (!open_) return false;
  out_.push_back(std::move(text));
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(conn_.socket().get_executor(), write_queue(), asio::detached);
  }
  return true;
}

void SipStream::close() {
  open_ = false;
  out_.clear();
  conn_.close();
}

asio::awaitable<void> SipStream::write_queue() {
  auto self = shared_from_this();
  while (open_ && !out_.empty()) {
    auto text = std::move(out_.front());
    out_.pop_front();
    if (co_await conn_.write(asio::buffer(text), kWriteDeadline)) close();
  }
  writing_ = false;
}

}  // namespace mobix::telephony
