#include "directory/directory.hpp"

#include <stdexcept>

namespace mobix {

namespace {
/// A store that cannot be read (the shared PostgreSQL unreachable) is the directory being
/// unavailable, as an LDAP server down is: callers answer "try later", never "unknown subscriber".
template <typename F>
auto readable(F&& f) {
  try {
    return f();
  } catch (const StoreConflict&) {
    throw;
  } catch (const StoreError& e) {
    throw DirectoryUnavailable(e.what());
  }
}
}  // namespace

std::optional<Subscriber> StoreDirectory::find(std::string_view identity) {
  return readable([&] { return find_any(identity); });
}

std::optional<Subscriber> StoreDirectory::find_any(std::string_view identity) {
  if (identity.empty()) return std::nullopt;
  if (auto m = normalize_msisdn(identity); !m.empty()) {
    if (auto s = repo_.find_subscriber(IdentityKind::msisdn, m)) return s;
    if (auto s = repo_.find_subscriber(IdentityKind::imsi, m)) return s;
  }
  if (auto s = repo_.find_subscriber(IdentityKind::username, identity)) return s;
  return repo_.find_subscriber(IdentityKind::serial, identity);
}

std::optional<Subscriber> StoreDirectory::find(IdentityKind kind, std::string_view value) {
  if (kind == IdentityKind::msisdn) {
    auto m = normalize_msisdn(value);
    if (m.empty()) return std::nullopt;
    return readable([&] { return repo_.find_subscriber(kind, m); });
  }
  return readable([&] { return repo_.find_subscriber(kind, value); });
}

Subscriber StoreDirectory::add(Subscriber s) {
  validate_subscriber(s);
  return repo_.add_subscriber(std::move(s));
}

void StoreDirectory::update(const Subscriber& s0) {
  Subscriber s = s0;
  validate_subscriber(s);
  repo_.update_subscriber(s);
}

}  // namespace mobix
