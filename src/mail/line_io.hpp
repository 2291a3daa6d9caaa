#pragma once
// Line-oriented I/O shared by the mail proxies (internal to src/mail).
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace mobix::mail {

using Stream = boost::beast::tcp_stream;
inline constexpr auto kUse = boost::asio::as_tuple(boost::asio::use_awaitable);

/// One CRLF-terminated line without its CRLF, or nullopt on EOF, error, timeout or a line
/// longer than `max` (then `buf` holds `max` octets).
inline boost::asio::awaitable<std::optional<std::string>> read_line(Stream& s, std::string& buf,
                                                                    std::size_t max,
                                                                    std::chrono::seconds timeout) {
  s.expires_after(timeout);
  auto [ec, n] =
      co_await boost::asio::async_read_until(s, boost::asio::dynamic_buffer(buf, max), "\r\n", kUse);
  if (ec) co_return std::nullopt;
  std::string line = buf.substr(0, n - 2);
  buf.erase(0, n);
  co_return line;
}

inline boost::asio::awaitable<bool> write_all(Stream& s, std::string data, std::chrono::seconds timeout) {
  s.expires_after(timeout);
  auto [ec, n] = co_await boost::asio::async_write(s, boost::asio::buffer(data), kUse);
  co_return !ec;
}

}  // namespace mobix::mail
