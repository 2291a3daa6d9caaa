#pragma once
// The client side of SMTP (RFC 5321) shared by the submission proxy and the relay's e-mail signal
// channel: reading a (multi-line) reply (assembled by smtp::ReplyReader).
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "codec/smtp/smtp.hpp"

namespace mobix::net {

class Conn;

/// A whole reply ("250-a\r\n250 b"), or nullopt on EOF, timeout, a malformed line or mixed codes
/// (then `*malformed`, when given, is set: the server answered, wrongly).
boost::asio::awaitable<std::optional<smtp::Reply>> read_reply(Conn& c, std::string& buf,
                                                              std::chrono::seconds timeout,
                                                              bool* malformed = nullptr);

}  // namespace mobix::net
