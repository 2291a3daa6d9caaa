#include "roaming/home_side.hpp"

#include "core/text.hpp"

namespace mobix::roaming {

HomeSide::HomeSide(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}

std::string HomeSide::key(const std::string& partner, std::string_view username) {
  return partner + "\n" + ascii_lower(std::string(username));
}

void HomeSide::authenticated(const std::string& partner, std::string_view username) {
  auto k = key(partner, username);
  if (!authenticated_.insert(k).second) return;
  order_.push_back(std::move(k));
  if (order_.size() > capacity_) {
    authenticated_.erase(order_.front());
    order_.pop_front();
  }
}

bool HomeSide::was_authenticated(const std::string& partner, std::string_view username) const {
  return authenticated_.count(key(partner, username)) > 0;
}

bool HomeSide::may_account(const std::string& partner, const AccountingRequest& req) const {
  using radius::AcctStatus;
  if (!req.own_realm) return false;
  if (req.status == AcctStatus::accounting_on || req.status == AcctStatus::accounting_off) return false;
  bool creates = req.status == AcctStatus::start || req.status == AcctStatus::interim_update;
  return !creates || req.session_known || was_authenticated(partner, req.username);
}

}  // namespace mobix::roaming
