#include "directory/ldap_directory.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include <ldap.h>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "directory/ldap_entry.hpp"
#include "directory/socket_deadlines.hpp"

namespace mobix {

namespace {

using Clock = std::chrono::steady_clock;

Counter& searches(const char* result) {
  return metrics().counter("mobix_directory_ldap_searches_total", "LDAP directory searches, by result",
                           std::string("result=\"") + result + "\"");
}
Counter& cache_hits() {
  return metrics().counter("mobix_directory_ldap_cache_hits_total", "Lookups answered from the LDAP cache");
}
Counter& connects(const char* result) {
  return metrics().counter("mobix_directory_ldap_connects_total", "LDAP connections opened and bound",
                           std::string("result=\"") + result + "\"");
}

std::string escape_filter_value(std::string_view v) {
  berval in{static_cast<ber_len_t>(v.size()), const_cast<char*>(v.data())};
  berval out{0, nullptr};
  if (ldap_bv2escaped_filter_value(&in, &out) != 0) throw std::bad_alloc();
  std::string s(out.bv_val, out.bv_len);
  ldap_memfree(out.bv_val);
  return s;
}

const char* kind_field(IdentityKind k) {
  switch (k) {
    case IdentityKind::msisdn:
      return "msisdn";
    case IdentityKind::imsi:
      return "imsi";
    case IdentityKind::username:
      return "username";
    case IdentityKind::serial:
      return "serial";
    case IdentityKind::hostname:
      return "hostname";
    case IdentityKind::id:
      break;
  }
  return "id";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> LdapDirectory::default_attributes() {
  return default_ldap_attributes();
}

namespace {

/// The connection this thread is opening in LdapDirectory::Impl::connect(): its deadline, armed by
/// the connect callback as soon as libldap has a socket (before any TLS handshake).
struct Opening {
  SocketDeadlines* deadlines = nullptr;
  SocketDeadlines::Clock::time_point deadline;
  std::uint64_t token = 0;
};
thread_local Opening t_opening;

int on_connect(LDAP*, Sockbuf* sb, LDAPURLDesc*, sockaddr*, ldap_conncb*) {
  int fd = -1;
  if (t_opening.deadlines && t_opening.token == 0 && ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd) == 1 &&
      fd >= 0)
    t_opening.token = t_opening.deadlines->arm(fd, t_opening.deadline);
  return 0;
}
void on_disconnect(LDAP*, Sockbuf*, ldap_conncb*) {}

}  // namespace

struct LdapDirectory::Impl {
  LdapConfig cfg;
  LdapAttributeMap map;
  SocketDeadlines deadlines;  ///< bounds what libldap's own timeouts do not (a hung TLS handshake)
  ldap_conncb connect_callback{&on_connect, &on_disconnect, nullptr};

  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<LDAP*> idle;
  unsigned open = 0;

  struct Cached {
    Clock::time_point expires;
    Subscriber s;
  };
  std::mutex cache_mu;
  std::unordered_map<std::string, Cached> cache;  // "msisdn:316..." -> entry

  explicit Impl(LdapConfig c) : cfg(std::move(c)), map(default_attributes()) {
    for (const auto& [field, attr] : cfg.attributes) {
      bool replaced = false;
      for (auto& m : map)
        if (m.first == field) m.second = attr, replaced = true;
      if (!replaced) map.emplace_back(field, attr);
    }
  }

  ~Impl() {
    for (auto* ld : idle) ldap_unbind_ext_s(ld, nullptr, nullptr);
  }

  std::string attribute_for(const std::string& field) const {
    for (const auto& [f, a] : map)
      if (f == field) return a;
    return "";
  }

  timeval timeout() const { return timeval{static_cast<time_t>(cfg.timeout), 0}; }

  // A new connection: options, StartTLS when asked, simple bind (RFC 4513). Throws DirectoryUnavailable.
  LDAP* connect() {
    LDAP* ld = nullptr;
    int rc = ldap_initialize(&ld, cfg.uri.c_str());
    if (rc != LDAP_SUCCESS)
      throw DirectoryUnavailable("ldap: bad URI " + cfg.uri + ": " + ldap_err2string(rc));
    t_opening = Opening{&deadlines, Clock::now() + std::chrono::seconds(cfg.timeout), 0};
    auto disarm = [&] {
      bool late = t_opening.token && deadlines.disarm(t_opening.token);
      t_opening = Opening{};
      return late;
    };
    auto fail = [&](const std::string& what, int code) {
      bool late = disarm();  // before the descriptor is closed
      ldap_unbind_ext_s(ld, nullptr, nullptr);
      connects("failed").inc();
      throw DirectoryUnavailable("ldap " + cfg.uri + ": " + what + ": " +
                                 (late ? "no answer within " + std::to_string(cfg.timeout) + " s"
                                       : std::string(ldap_err2string(code))));
    };
    int v3 = LDAP_VERSION3, hard = LDAP_OPT_X_TLS_HARD, no_new_ctx = 0;
    auto tv = timeout();
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &hard);  // TLS always verified
    if (!cfg.ca_file.empty()) ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, cfg.ca_file.c_str());
    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &no_new_ctx);  // per-connection TLS context with the above
    ldap_set_option(ld, LDAP_OPT_CONNECT_CB, &connect_callback);
    if (cfg.start_tls) {
      rc = ldap_start_tls_s(ld, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) fail("StartTLS failed", rc);
    }
    berval cred{static_cast<ber_len_t>(cfg.bind_password.size()),
                const_cast<char*>(cfg.bind_password.data())};
    rc = ldap_sasl_bind_s(ld, cfg.bind_dn.empty() ? nullptr : cfg.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                          nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) fail("bind as \"" + cfg.bind_dn + "\" failed", rc);
    if (disarm()) fail("bind as \"" + cfg.bind_dn + "\" failed", LDAP_TIMEOUT);
    connects("ok").inc();
    return ld;
  }

  // Borrows a bound connection from the pool; given back (or closed when broken) on scope exit.
  struct Lease {
    Impl& impl;
    LDAP* ld;
    bool broken = false;
    ~Lease() { impl.give_back(ld, broken); }
  };

  LDAP* take() {
    std::unique_lock lock(pool_mu);
    if (!pool_cv.wait_for(lock, std::chrono::seconds(cfg.timeout),
                          [&] { return !idle.empty() || open < cfg.pool_size; }))
      throw DirectoryUnavailable("ldap: every pooled connection is busy");
    if (!idle.empty()) {
      auto* ld = idle.back();
      idle.pop_back();
      return ld;
    }
    ++open;
    lock.unlock();
    try {
      return connect();
    } catch (...) {
      std::lock_guard relock(pool_mu);
      --open;
      pool_cv.notify_one();
      throw;
    }
  }

  void give_back(LDAP* ld, bool broken) {
    std::lock_guard lock(pool_mu);
    if (broken) {
      ldap_unbind_ext_s(ld, nullptr, nullptr);
      --open;
    } else {
      idle.push_back(ld);
    }
    pool_cv.notify_one();
  }

  static std::string entry_dn(LDAP* ld, LDAPMessage* e) {
    std::string dn;
    if (char* d = ldap_get_dn(ld, e)) {
      dn = d;
      ldap_memfree(d);
    }
    return dn;
  }

  static LdapFirstValue first_value_of(LDAP* ld, LDAPMessage* e) {
    return [ld, e](const std::string& attr) -> std::optional<std::string> {
      berval** vals = ldap_get_values_len(ld, e, attr.c_str());
      if (!vals) return std::nullopt;
      std::optional<std::string> v;
      if (vals[0]) v.emplace(vals[0]->bv_val, vals[0]->bv_len);
      ldap_value_free_len(vals);
      return v;
    };
  }

  // An entry whose values break the rules: counted and logged with its DN, never used.
  static void refused(const std::string& dn, const std::string& why) {
    metrics()
        .counter("mobix_directory_ldap_invalid_entries_total",
                 "LDAP entries refused because a value breaks the subscriber or device rules")
        .inc();
    spdlog::warn("directory: LDAP entry {} refused: {}", dn, why);
  }

  // The entry as a subscriber, or nullopt (logged and counted) when a value breaks the rules.
  std::optional<Subscriber> to_subscriber(LDAP* ld, LDAPMessage* e) {
    auto dn = entry_dn(ld, e);
    try {
      return subscriber_from_entry(dn, map, first_value_of(ld, e));
    } catch (const std::invalid_argument& err) {
      refused(dn, err.what());
      return std::nullopt;
    }
  }

  // One search (subtree under base_dn, or the base entry alone); `on_entry` sees each entry while the
  // connection is held. One reconnect when a pooled connection turns out dead.
  template <typename OnEntry>
  void search_raw(const std::string& base, int scope, const std::string& filter,
                  std::vector<std::string> names, int size_limit, OnEntry&& on_entry) {
    std::vector<char*> attrs;
    for (auto& n : names) attrs.push_back(n.data());
    attrs.push_back(nullptr);
    for (int attempt = 0;; ++attempt) {
      Lease c{*this, take()};
      LDAPMessage* res = nullptr;
      auto tv = timeout();
      int fd = -1;
      ldap_get_option(c.ld, LDAP_OPT_DESC, &fd);
      auto token = fd < 0 ? 0 : deadlines.arm(fd, Clock::now() + std::chrono::seconds(cfg.timeout + 1));
      int rc = ldap_search_ext_s(c.ld, base.c_str(), scope, filter.c_str(), attrs.data(), 0, nullptr, nullptr,
                                 &tv, size_limit, &res);
      if (token && deadlines.disarm(token)) {  // hung: a new connection would hang as well
        if (res) ldap_msgfree(res);
        c.broken = true;
        searches("error").inc();
        throw DirectoryUnavailable("ldap search " + filter + ": no answer within " +
                                   std::to_string(cfg.timeout) + " s");
      }
      if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        for (auto* e = ldap_first_entry(c.ld, res); e; e = ldap_next_entry(c.ld, e)) on_entry(c.ld, e);
        ldap_msgfree(res);
        return;
      }
      if (res) ldap_msgfree(res);
      if (rc == LDAP_NO_SUCH_OBJECT) return;
      c.broken = true;  // anything else: do not reuse this connection
      bool transient = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_UNAVAILABLE ||
                       rc == LDAP_BUSY || rc == LDAP_TIMEOUT;
      if (!transient || attempt > 0) {
        searches("error").inc();
        throw DirectoryUnavailable("ldap search " + filter + ": " + ldap_err2string(rc));
      }
    }
  }

  std::vector<std::string> subscriber_attributes() const {
    std::vector<std::string> names;
    for (const auto& m : map) names.push_back(m.second);
    return names;
  }

  std::vector<Subscriber> search(const std::string& filter, int size_limit, const std::string& base = "",
                                 int scope = LDAP_SCOPE_SUBTREE) {
    std::vector<Subscriber> out;
    search_raw(base.empty() ? cfg.base_dn : base, scope, filter, subscriber_attributes(), size_limit,
               [&](LDAP* ld, LDAPMessage* e) {
                 if (auto s = to_subscriber(ld, e)) out.push_back(std::move(*s));
               });
    return out;
  }

  // Seed 003: mobixDevice entries under their subscribers' entries. The subscriber is read back (a
  // base search on the parent), so its id is the one its own entry gives, and a device under
  // anything but a subscriber is refused.
  std::vector<Device> search_devices(const std::string& filter, int size_limit) {
    std::vector<std::pair<Device, std::string>> found;  // with the parent's DN
    search_raw(cfg.base_dn, LDAP_SCOPE_SUBTREE, "(&(objectClass=mobixDevice)" + filter + ")",
               {"mobixIdentityCode", "mobixHomeAddress", "mobixMipSpi", "mobixMipKey"}, size_limit,
               [&](LDAP* ld, LDAPMessage* e) {
                 auto dn = entry_dn(ld, e);
                 try {
                   found.emplace_back(device_from_entry(dn, first_value_of(ld, e)), parent_dn(dn));
                 } catch (const std::invalid_argument& err) {
                   refused(dn, err.what());
                 }
               });
    std::vector<Device> out;
    for (auto& [d, parent] : found) {
      auto owner = search(cfg.filter, 1, parent, LDAP_SCOPE_BASE);
      if (owner.empty()) {
        refused("mobixIdentityCode=" + d.identity_code + "," + parent,
                "its parent entry is not a subscriber");
        continue;
      }
      d.subscriber_id = owner.front().id;
      // Ids come from DNs, so find(id) answers only from the cache: the device's owner is put there,
      // for the initiating database that looks the subscriber up by the device's subscriber id.
      remember("dn:" + parent, owner.front());
      out.push_back(std::move(d));
    }
    return out;
  }

  std::optional<Subscriber> cached(const std::string& key) {
    std::lock_guard lock(cache_mu);
    auto it = cache.find(key);
    if (it == cache.end()) return std::nullopt;
    if (Clock::now() >= it->second.expires) {
      cache.erase(it);
      return std::nullopt;
    }
    cache_hits().inc();
    return it->second.s;
  }

  void remember(const std::string& key, const Subscriber& s) {
    if (cfg.cache_ttl == 0) return;
    std::lock_guard lock(cache_mu);
    auto expires = Clock::now() + std::chrono::seconds(cfg.cache_ttl);
    if (cache.size() > 100000) cache.clear();  // bounded: a flood of identities cannot grow it forever
    cache[key] = {expires, s};
    cache["id:" + std::to_string(s.id)] = {expires, s};
    if (!s.msisdn.empty()) cache["msisdn:" + s.msisdn] = {expires, s};
  }
};

LdapDirectory::LdapDirectory(LdapConfig cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}
LdapDirectory::~LdapDirectory() = default;

std::optional<Subscriber> LdapDirectory::find(IdentityKind kind, std::string_view value) {
  std::string v(value);
  if (kind == IdentityKind::msisdn) v = normalize_msisdn(value);
  if (v.empty()) return std::nullopt;
  const std::string key = std::string(kind_field(kind)) + ":" + v;
  if (auto hit = impl_->cached(key)) return hit;
  // Ids are derived from DNs, so an id is only known for entries seen recently.
  if (kind == IdentityKind::id) return std::nullopt;
  auto attr = impl_->attribute_for(kind_field(kind));
  if (attr.empty()) return std::nullopt;
  auto filter = "(&" + impl_->cfg.filter + "(" + attr + "=" + escape_filter_value(v) + "))";
  auto found = impl_->search(filter, 2);
  if (found.empty()) {
    searches("not_found").inc();
    return std::nullopt;
  }
  if (found.size() > 1) {
    // Two entries claiming one identity: serving either could hand out someone else's mail.
    searches("ambiguous").inc();
    spdlog::error("ldap: more than one entry matches {}={}: refusing to choose", attr, v);
    return std::nullopt;
  }
  searches("found").inc();
  impl_->remember(key, found.front());
  return found.front();
}

std::optional<Subscriber> LdapDirectory::find(std::string_view identity) {
  if (identity.empty()) return std::nullopt;
  if (!normalize_msisdn(identity).empty()) {
    if (auto s = find(IdentityKind::msisdn, identity)) return s;
    if (auto s = find(IdentityKind::imsi, identity)) return s;
  }
  if (auto s = find(IdentityKind::username, identity)) return s;
  return find(IdentityKind::serial, identity);
}

std::vector<Subscriber> LdapDirectory::list() {
  return impl_->search(impl_->cfg.filter, 1000);
}

Subscriber LdapDirectory::add(Subscriber) {
  throw std::invalid_argument("the directory is the operator's LDAP: provision subscribers there");
}
void LdapDirectory::update(const Subscriber&) {
  throw std::invalid_argument("the directory is the operator's LDAP: change subscribers there");
}
bool LdapDirectory::remove(std::int64_t) {
  throw std::invalid_argument("the directory is the operator's LDAP: remove subscribers there");
}

std::optional<Device> LdapDirectory::find_device(DeviceKey key, std::string_view value) {
  const char* attr = key == DeviceKey::identity_code ? "mobixIdentityCode" : "mobixHomeAddress";
  auto found = impl_->search_devices("(" + std::string(attr) + "=" + escape_filter_value(value) + ")", 2);
  if (found.size() > 1) {
    // Two devices claiming one code or home address: either could be the wrong key.
    searches("ambiguous").inc();
    spdlog::error("ldap: more than one device matches {}={}: refusing to choose", attr, value);
    return std::nullopt;
  }
  searches(found.empty() ? "not_found" : "found").inc();
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<Device> LdapDirectory::list_devices(std::int64_t subscriber_id) {
  auto all = impl_->search_devices("", 1000);
  if (subscriber_id) std::erase_if(all, [&](const Device& d) { return d.subscriber_id != subscriber_id; });
  return all;
}

void LdapDirectory::forget(std::string_view msisdn) {
  std::lock_guard lock(impl_->cache_mu);
  std::erase_if(impl_->cache, [&](const auto& kv) { return kv.second.s.msisdn == msisdn; });
}

}  // namespace mobix
