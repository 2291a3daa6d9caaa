#include "directory/ldap_directory.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include <ldap.h>
#include <spdlog/spdlog.h>

#include "core/metrics.hpp"

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

// A stable positive id for an entry, from its DN (sessions and sticky leases refer to it and
// survive restarts, so it must not depend on the process). FNV-1a 64, top bits cleared.
std::int64_t id_from_dn(std::string_view dn) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : dn) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return static_cast<std::int64_t>((h >> 3) | (1ull << 60));
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
  // inetOrgPerson (RFC 2798) where it has the field; the rest from examples/ldap/mobix.schema.
  return {{"msisdn", "mobile"},
          {"username", "uid"},
          {"imsi", "mobixImsi"},
          {"serial", "mobixSerial"},
          {"password", "mobixAccessPassword"},
          {"framed_ip", "mobixFramedIp"},
          {"hostname", "mobixHostname"},
          {"mail.address", "mail"},
          {"mail.name", "displayName"},
          {"mail.pop3", "mobixMailPop3"},
          {"mail.imap", "mobixMailImap"},
          {"mail.smtp", "mobixMailSmtp"},
          {"mail.pop3_tls", "mobixMailPop3Tls"},
          {"mail.imap_tls", "mobixMailImapTls"},
          {"mail.smtp_tls", "mobixMailSmtpTls"},
          {"mail.user", "mobixMailUser"},
          {"mail.password", "mobixMailPassword"},
          {"mail.smtp_user", "mobixMailSmtpUser"},
          {"mail.smtp_password", "mobixMailSmtpPassword"}};
}

struct LdapDirectory::Impl {
  LdapConfig cfg;
  std::vector<std::pair<std::string, std::string>> map;  // mobix field -> LDAP attribute

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
    auto fail = [&](const std::string& what, int code) {
      ldap_unbind_ext_s(ld, nullptr, nullptr);
      connects("failed").inc();
      throw DirectoryUnavailable("ldap " + cfg.uri + ": " + what + ": " + ldap_err2string(code));
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
    if (cfg.start_tls) {
      rc = ldap_start_tls_s(ld, nullptr, nullptr);
      if (rc != LDAP_SUCCESS) fail("StartTLS failed", rc);
    }
    berval cred{static_cast<ber_len_t>(cfg.bind_password.size()),
                const_cast<char*>(cfg.bind_password.data())};
    rc = ldap_sasl_bind_s(ld, cfg.bind_dn.empty() ? nullptr : cfg.bind_dn.c_str(), LDAP_SASL_SIMPLE, &cred,
                          nullptr, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) fail("bind as \"" + cfg.bind_dn + "\" failed", rc);
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

  Subscriber to_subscriber(LDAP* ld, LDAPMessage* e) {
    Subscriber s;
    if (char* dn = ldap_get_dn(ld, e)) {
      s.id = id_from_dn(dn);
      ldap_memfree(dn);
    }
    for (const auto& [field, attr] : map) {
      berval** vals = ldap_get_values_len(ld, e, attr.c_str());
      if (!vals) continue;
      std::string v;
      if (vals[0]) v.assign(vals[0]->bv_val, vals[0]->bv_len);
      ldap_value_free_len(vals);
      if (field == "msisdn")
        s.msisdn = normalize_msisdn(v);
      else if (field == "imsi")
        s.imsi = v;
      else if (field == "username")
        s.username = v;
      else if (field == "serial")
        s.serial = v;
      else if (field == "password")
        s.password = v;
      else if (field == "framed_ip")
        s.framed_ip = v;
      else if (field == "hostname")
        s.hostname = v;
      else
        s.attrs[field] = v;
    }
    return s;
  }

  // Subtree search under base_dn; one reconnect when a pooled connection turns out dead.
  std::vector<Subscriber> search(const std::string& filter, int size_limit) {
    std::vector<std::string> names;
    for (const auto& m : map) names.push_back(m.second);
    std::vector<char*> attrs;
    for (auto& n : names) attrs.push_back(n.data());
    attrs.push_back(nullptr);
    for (int attempt = 0;; ++attempt) {
      Lease c{*this, take()};
      LDAPMessage* res = nullptr;
      auto tv = timeout();
      int rc = ldap_search_ext_s(c.ld, cfg.base_dn.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs.data(),
                                 0, nullptr, nullptr, &tv, size_limit, &res);
      if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
        std::vector<Subscriber> out;
        for (auto* e = ldap_first_entry(c.ld, res); e; e = ldap_next_entry(c.ld, e))
          out.push_back(to_subscriber(c.ld, e));
        ldap_msgfree(res);
        return out;
      }
      if (res) ldap_msgfree(res);
      if (rc == LDAP_NO_SUCH_OBJECT) return {};
      c.broken = true;  // anything else: do not reuse this connection
      bool transient = rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_UNAVAILABLE ||
                       rc == LDAP_BUSY || rc == LDAP_TIMEOUT;
      if (!transient || attempt > 0) {
        searches("error").inc();
        throw DirectoryUnavailable("ldap search " + filter + ": " + ldap_err2string(rc));
      }
    }
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

void LdapDirectory::forget(std::string_view msisdn) {
  std::lock_guard lock(impl_->cache_mu);
  std::erase_if(impl_->cache, [&](const auto& kv) { return kv.second.s.msisdn == msisdn; });
}

}  // namespace mobix
