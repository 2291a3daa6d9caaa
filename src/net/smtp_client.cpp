#include "net/smtp_client.hpp"

#include "net/conn.hpp"

namespace mobix::net {

namespace asio = boost::asio;

asio::awaitable<std::optional<smtp::Reply>> read_reply(Conn& s, std::string& buf,
                                                       std::chrono::seconds timeout, bool* malformed) {
  smtp::ReplyReader reader;
  for (;;) {
    auto line = co_await read_line(s, buf, smtp::kMaxTextLine, timeout);
    if (!line) co_return std::nullopt;
    auto status = reader.line(*line);
    if (status == smtp::ReplyReader::Status::bad) {
      if (malformed) *malformed = true;
      co_return std::nullopt;
    }
    if (status == smtp::ReplyReader::Status::done) co_return reader.reply();
  }
}

}  // namespace mobix::net
