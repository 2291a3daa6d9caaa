#pragma once
// Which accounting sessions have ended (issue 12 item 2): an ended (NAS, Acct-Session-Id) must
// not start again, so a captured Accounting-Start replayed after the Stop cannot re-create the
// session and take its address from the next holder. Remembered for `window` seconds (a replay
// older than that carries an Event-Timestamp the age check refuses, when the NAS sends one), at
// most `capacity` entries (the oldest are forgotten first). Not thread-safe: the session table
// calls it under its lock.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

namespace mobix {

class EndedSessions {
 public:
  EndedSessions(std::int64_t window = 86400, std::size_t capacity = 1'000'000)
      : window_(window), capacity_(capacity) {}
  void configure(std::int64_t window, std::size_t capacity) {
    window_ = window;
    capacity_ = capacity;
  }
  std::int64_t window() const { return window_; }

  void remember(std::string_view nas, std::string_view acct_session_id, std::int64_t ended);
  bool contains(std::string_view nas, std::string_view acct_session_id, std::int64_t now);
  std::size_t size() const { return keys_.size(); }

 private:
  static std::string key(std::string_view nas, std::string_view acct_session_id);
  void forget_old(std::int64_t now);

  std::int64_t window_;
  std::size_t capacity_;
  std::unordered_set<std::string> keys_;
  std::deque<std::pair<std::int64_t, std::string>> by_age_;  ///< (ended, key), oldest first
};

}  // namespace mobix
