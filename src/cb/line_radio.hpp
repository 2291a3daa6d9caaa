#pragma once
// How wake-ups reach the boxes of this process (seed 004 Phase III; the pager variant): what would
// be each box's phone line or pager is one SMPP receiver bind to the SMSC for all of them, its
// address_range the common prefix of their lines, each deliver_sm handed to the box whose line it
// is addressed to. One bind for a fleet, not one per box: an SMSC limits binds per client.
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/net.hpp"

namespace mobix::smpp {
class Esme;
}

namespace mobix::cb {

class LineRadio {
 public:
  using Listener = std::function<void(const std::string& text)>;
  LineRadio(boost::asio::io_context& io, Endpoint smsc, std::string system_id, std::string password);
  ~LineRadio();
  /// Messages to `line` ('+' and the rest as the SMSC routes them) go to `on_message` from now on;
  /// binds (or binds again with a wider address range) when needed.
  void tune(std::string line, Listener on_message);
  void stop();

 private:
  boost::asio::awaitable<void> receive_loop();
  std::string range() const;
  boost::asio::io_context& io_;
  Endpoint smsc_;
  std::string system_id_, password_;
  std::map<std::string, Listener> lines_;
  std::string bound_range_;
  bool running_ = false, stopping_ = false, rebind_ = false;
  std::unique_ptr<smpp::Esme> esme_;
};

/// A line number as the SMSC routes it: without a leading '+'.
std::string sms_address(std::string line);

}  // namespace mobix::cb
