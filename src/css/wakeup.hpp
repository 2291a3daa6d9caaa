#pragma once
// The call-back signalling service of seed 004 Phase III (and the pager variant): a wake-up SMS to
// the box's line, over one kept SMPP transmitter bind. SMS cost money: at most `per_second` leave,
// and one line gets at most a few per minute however often it is asked for.
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "core/config.hpp"

namespace mobix {

class WakeupSender {
 public:
  WakeupSender(boost::asio::io_context& io, const CssConfig& cfg);
  ~WakeupSender();
  void start();
  void stop();
  enum class Outcome { sent, rate_limited, failed };
  /// Sends "MOBIX WAKE <cb_id>" to `line_id`; completes when the SMSC accepted it (or did not).
  boost::asio::awaitable<Outcome> wake(std::string line_id, std::string cb_id);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace mobix
