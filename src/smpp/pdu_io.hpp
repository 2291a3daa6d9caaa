#pragma once
// Reading and writing whole SMPP PDUs on a TCP socket (internal to src/smpp).
#include <chrono>
#include <optional>
#include <string>
#include <variant>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "codec/smpp/smpp.hpp"

namespace mobix::smpp {

/// A PDU, or why the stream cannot go on: EOF/timeout ("closed") or a framing error.
struct ReadResult {
  std::optional<Pdu> pdu;
  std::optional<Error> error;  ///< the PDU was framed but did not decode (the stream can go on)
  bool closed = false;         ///< EOF, I/O error, timeout or a bad command_length
  std::uint32_t sequence = 0;  ///< of the undecodable PDU, for the generic_nack
};

boost::asio::awaitable<ReadResult> read_pdu(boost::asio::ip::tcp::socket& s, std::chrono::seconds timeout);
boost::asio::awaitable<bool> write_pdu(boost::asio::ip::tcp::socket& s, const Pdu& p);

}  // namespace mobix::smpp
