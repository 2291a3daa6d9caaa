#include "mail/access_identity.hpp"

#include "access/session_table.hpp"
#include "directory/directory.hpp"

namespace mobix::mail {

bool in_ranges(const std::vector<Cidr>& ranges, const boost::asio::ip::address& a) {
  for (const auto& r : ranges)
    if (r.contains(a)) return true;
  return false;
}

std::optional<Identity> identify(SessionTable& sessions, Directory& dir, const std::string& ip) {
  auto session = sessions.find_by_ip(ip);
  if (!session) return std::nullopt;
  Identity id{*session, std::nullopt};
  if (session->subscriber_id)
    id.subscriber = dir.find(IdentityKind::id, std::to_string(session->subscriber_id));
  if (!id.subscriber && !session->msisdn.empty())
    id.subscriber = dir.find(IdentityKind::msisdn, session->msisdn);
  return id;
}

bool FailureLimiter::blocked(const std::string& ip) {
  auto it = windows_.find(ip);
  if (it == windows_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second.start > std::chrono::minutes(1)) {
    windows_.erase(it);
    return false;
  }
  return it->second.count >= per_minute_;
}

void FailureLimiter::record(const std::string& ip) {
  auto now = std::chrono::steady_clock::now();
  auto& w = windows_[ip];
  if (w.count == 0 || now - w.start > std::chrono::minutes(1)) w = {now, 0};
  ++w.count;
}

}  // namespace mobix::mail
