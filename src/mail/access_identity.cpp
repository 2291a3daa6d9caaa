#include "mail/access_identity.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"
#include "directory/directory.hpp"
#include "spine/session_view.hpp"

namespace mobix::mail {

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

}  // namespace

boost::asio::awaitable<std::optional<Identity>> identify(SessionView& sessions, Directory& dir,
                                                         boost::asio::thread_pool& pool,
                                                         const std::string& ip) {
  auto session = sessions.find_by_ip(ip);
  if (!session) co_return std::nullopt;
  Identity id{*session, std::nullopt};
  if (!dir.blocking()) {
    look_up(dir, id);
    co_return id;
  }
  co_await boost::asio::co_spawn(
      pool,
      [&]() -> boost::asio::awaitable<void> {
        look_up(dir, id);
        co_return;
      },
      boost::asio::use_awaitable);
  co_return id;
}

}  // namespace mobix::mail
