#pragma once
// The client side of SMTP (RFC 5321) shared by the submission proxy and the relay's e-mail signal
// channel: reading a (multi-line) reply and an EHLO keyword.
#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "codec/smtp/smtp.hpp"

namespace mobix::net {

class Conn;

/// A whole reply ("250-a\r\n250 b"), or nullopt on EOF, timeout or a malformed line.
boost::asio::awaitable<std::optional<smtp::Reply>> read_reply(Conn& c, std::string& buf,
                                                              std::chrono::seconds timeout);

/// The EHLO keyword's parameters ("AUTH PLAIN LOGIN" -> "PLAIN LOGIN"), or nullopt when the
/// server does not advertise it (RFC 5321 4.1.1.1).
std::optional<std::string> ehlo_keyword(const smtp::Reply& ehlo, const std::string& keyword);

}  // namespace mobix::net
