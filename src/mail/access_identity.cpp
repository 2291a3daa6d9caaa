#include "mail/access_identity.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "access/session_table.hpp"
#include "core/metrics.hpp"
#include "directory/directory.hpp"

namespace mobix::mail {

bool in_ranges(const std::vector<Cidr>& ranges, const boost::asio::ip::address& a) {
  for (const auto& r : ranges)
    if (r.contains(a)) return true;
  return false;
}

namespace {
void look_up(Directory& dir, Identity& id) {
  try {
    if (id.session.subscriber_id)
      id.subscriber = dir.find(IdentityKind::id, std::to_string(id.session.subscriber_id));
    if (!id.subscriber && !id.session.msisdn.empty())
      id.subscriber = dir.find(IdentityKind::msisdn, id.session.msisdn);
  } catch (const DirectoryUnavailable& e) {
    id.directory_unavailable = true;
    metrics()
        .counter("mobix_mail_directory_unavailable_total", "Mail logins that could not ask the directory")
        .inc();
    spdlog::warn("mail: directory unavailable for msisdn {}: {}", id.session.msisdn, e.what());
  }
}

boost::asio::thread_pool& directory_pool() {
  static boost::asio::thread_pool pool(4);
  return pool;
}
}  // namespace

boost::asio::awaitable<std::optional<Identity>> identify(SessionTable& sessions, Directory& dir,
                                                         const std::string& ip) {
  auto session = sessions.find_by_ip(ip);
  if (!session) co_return std::nullopt;
  Identity id{*session, std::nullopt};
  if (!dir.blocking()) {
    look_up(dir, id);
    co_return id;
  }
  co_await boost::asio::co_spawn(
      directory_pool(),
      [&]() -> boost::asio::awaitable<void> {
        look_up(dir, id);
        co_return;
      },
      boost::asio::use_awaitable);
  co_return id;
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
