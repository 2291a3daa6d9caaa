#include "access/ended_sessions.hpp"

namespace mobix {

std::string EndedSessions::key(std::string_view nas, std::string_view acct_session_id) {
  std::string k;
  k.reserve(nas.size() + 1 + acct_session_id.size());
  k.append(nas).push_back('\n');
  k.append(acct_session_id);
  return k;
}

void EndedSessions::forget_old(std::int64_t now) {
  while (!by_age_.empty() && (by_age_.front().first < now - window_ || by_age_.size() > capacity_)) {
    keys_.erase(by_age_.front().second);
    by_age_.pop_front();
  }
}

void EndedSessions::remember(std::string_view nas, std::string_view acct_session_id, std::int64_t ended) {
  if (acct_session_id.empty() || capacity_ == 0) return;
  auto k = key(nas, acct_session_id);
  if (keys_.insert(k).second) by_age_.emplace_back(ended, std::move(k));
  forget_old(ended);
}

bool EndedSessions::contains(std::string_view nas, std::string_view acct_session_id, std::int64_t now) {
  forget_old(now);
  return !acct_session_id.empty() && keys_.count(key(nas, acct_session_id)) > 0;
}

}  // namespace mobix
