#pragma once
// The home network's side of roaming (seed 002 [0029]): it authenticates its own subscribers for a
// partner's visited network, and accepts that partner's accounting only for terminals it
// authenticated there; nothing is written for anyone else.
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_set>

#include "codec/radius/radius.hpp"

namespace mobix::roaming {

class HomeSide {
 public:
  /// Remembers at most `capacity` (partner, NAI) pairs; the oldest are forgotten first (a
  /// forgotten terminal's accounting is still accepted while its session lives here).
  explicit HomeSide(std::size_t capacity = 1'000'000);

  /// `partner` had us authenticate `username`, and we accepted.
  void authenticated(const std::string& partner, std::string_view username);
  bool was_authenticated(const std::string& partner, std::string_view username) const;

  struct AccountingRequest {
    std::string_view username;
    radius::AcctStatus status;
    bool own_realm = false;      ///< the username carries one of our realms
    bool session_known = false;  ///< a session from this partner already holds its address
  };
  /// Whether `partner`'s accounting may change sessions here: Start and Interim only for a
  /// terminal we authenticated (or whose session we hold), only our realms, and never
  /// Accounting-On/Off (a partner's NAS restarting must not end our other partners' sessions).
  bool may_account(const std::string& partner, const AccountingRequest& req) const;

 private:
  static std::string key(const std::string& partner, std::string_view username);
  std::size_t capacity_;
  std::unordered_set<std::string> authenticated_;
  std::deque<std::string> order_;  ///< oldest first, for eviction
};

}  // namespace mobix::roaming
