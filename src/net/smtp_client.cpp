#include "net/smtp_client.hpp"

#include <cctype>

#include "net/conn.hpp"

namespace mobix::net {

namespace asio = boost::asio;

asio::awaitable<std::optional<smtp::Reply>> read_reply(Conn& s, std::string& buf,
                                                       std::chrono::seconds timeout) {
  smtp::Reply r;
  for (int lines = 0; lines < 100; ++lines) {
    auto line = co_await read_line(s, buf, smtp::kMaxTextLine, timeout);
    if (!line) co_return std::nullopt;
    auto rl = smtp::parse_reply_line(*line);
    if (!rl) co_return std::nullopt;
    r.code = rl->code;
    r.text += *line + "\r\n";
    if (!rl->more) co_return r;
  }
  co_return std::nullopt;
}

std::optional<std::string> ehlo_keyword(const smtp::Reply& ehlo, const std::string& keyword) {
  std::size_t pos = 0;
  for (int line = 0; pos < ehlo.text.size(); ++line) {
    auto end = ehlo.text.find("\r\n", pos);
    if (end == std::string::npos) end = ehlo.text.size();
    if (line > 0 && end - pos >= 4) {  // the first line is the greeting, not a keyword
      std::string kw = ehlo.text.substr(pos + 4, end - pos - 4);
      for (auto& c : kw) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (kw == keyword) return "";
      if (kw.rfind(keyword + " ", 0) == 0) return kw.substr(keyword.size() + 1);
    }
    pos = end + 2;
  }
  return std::nullopt;
}

}  // namespace mobix::net
