#include "kerberos/key_table.hpp"

#include "kerberos/gss_util.hpp"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <system_error>

#include <openssl/crypto.h>

namespace mobix::krb {

namespace fs = std::filesystem;

namespace {

/// The keytab files under `path`: the file itself, or a directory's regular files, sorted.
std::vector<fs::path> keytab_files(const std::string& path) {
  std::error_code ec;
  if (!fs::is_directory(path, ec)) return {fs::path(path)};
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path, ec))
    if (e.is_regular_file(ec)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

/// Adds every entry of one keytab file to `index`. Throws KerberosError (no_key).
void read_file(detail::Context& ctx, const fs::path& file,
               std::unordered_map<std::string, PrincipalKeys>& index) {
  auto c = ctx.get();
  krb5_keytab kt = nullptr;
  krb5_kt_cursor cursor{};
  auto fail = [&](krb5_error_code rc) {
    if (kt) krb5_kt_close(c, kt);
    throw KerberosError(KerberosError::Kind::no_key, "keytab " + file.string() + ": " + ctx.message(rc));
  };
  if (auto rc = krb5_kt_resolve(c, ("FILE:" + file.string()).c_str(), &kt)) fail(rc);
  if (auto rc = krb5_kt_start_seq_get(c, kt, &cursor)) fail(rc);
  krb5_keytab_entry e{};
  while (krb5_kt_next_entry(c, kt, &e, &cursor) == 0) {
    char* name = nullptr;
    if (krb5_unparse_name(c, e.principal, &name) == 0) {
      DeviceKey k;
      k.kvno = e.vno;
      k.enctype = e.key.enctype;
      k.timestamp = e.timestamp;
      k.contents.assign(reinterpret_cast<const char*>(e.key.contents), e.key.length);
      index[name].push_back(std::move(k));
      krb5_free_unparsed_name(c, name);
    }
    krb5_free_keytab_entry_contents(c, &e);  // wipes the key bytes
  }
  krb5_kt_end_seq_get(c, kt, &cursor);
  krb5_kt_close(c, kt);
}

}  // namespace

DeviceKey::~DeviceKey() {
  OPENSSL_cleanse(contents.data(), contents.size());
}

KeyTable::KeyTable(std::string path) : path_(std::move(path)) {
  signature_ = signature();
  detail::Context ctx;
  std::unordered_map<std::string, PrincipalKeys> read;
  for (const auto& f : keytab_files(path_)) read_file(ctx, f, read);
  if (read.empty()) throw KerberosError(KerberosError::Kind::no_key, "keytab " + path_ + " holds no key");
  auto index = std::make_shared<Index>();
  for (auto& [name, keys] : read)
    index->emplace(name, std::make_shared<const PrincipalKeys>(std::move(keys)));
  index_ = std::move(index);
  checked_ = std::chrono::steady_clock::now();
}

KeyTable::~KeyTable() = default;

std::string KeyTable::signature() const {
  std::string s;
  std::error_code ec;
  for (const auto& f : keytab_files(path_)) {
    auto size = fs::file_size(f, ec);
    auto mtime = fs::last_write_time(f, ec).time_since_epoch().count();
    s += f.string() + ':' + std::to_string(size) + ':' + std::to_string(mtime) + '\n';
  }
  return s;
}

void KeyTable::refresh_if_changed() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    if (now - checked_ < std::chrono::seconds(1)) return;
    checked_ = now;
  }
  auto seen = signature();
  {
    std::lock_guard lock(mutex_);
    if (seen == signature_) return;
  }
  try {
    KeyTable fresh(path_);
    std::lock_guard lock(mutex_);
    index_ = fresh.index_;
    signature_ = fresh.signature_;
  } catch (const KerberosError&) {
    std::lock_guard lock(mutex_);  // half-written or removed: keep the last good keys, look again later
    signature_ = seen;
  }
}

std::shared_ptr<const PrincipalKeys> KeyTable::keys_of(const std::string& principal) {
  refresh_if_changed();
  return cached_keys_of(principal);
}

std::shared_ptr<const PrincipalKeys> KeyTable::cached_keys_of(const std::string& principal) {
  std::lock_guard lock(mutex_);
  auto it = index_->find(principal);
  return it == index_->end() ? nullptr : it->second;
}

std::size_t KeyTable::principals() {
  std::lock_guard lock(mutex_);
  return index_->size();
}

// ---- detail::ThreadKeytab ----

namespace detail {

namespace {
std::atomic<unsigned> g_thread_keytabs{0};
}

ThreadKeytab::ThreadKeytab(Context& ctx, const std::string& principal, const PrincipalKeys& keys)
    : ctx_(ctx) {
  // MIT never frees a MEMORY keytab, so each thread reuses one of its own.
  static thread_local std::string name = "MEMORY:mobix-keys-" + std::to_string(++g_thread_keytabs);
  name_ = name;
  auto c = ctx_.get();
  auto fail = [&](krb5_error_code rc, const char* step) {
    release();
    throw KerberosError(KerberosError::Kind::no_key,
                        std::string(step) + " for " + principal + ": " + ctx_.message(rc));
  };
  if (auto rc = krb5_kt_resolve(c, name_.c_str(), &kt_)) fail(rc, "in-memory keytab");
  clear();  // what an earlier use on this thread may have left after an error
  if (auto rc = krb5_parse_name(c, principal.c_str(), &principal_)) fail(rc, "bad principal name");
  for (const auto& k : keys) {
    krb5_keytab_entry e{};
    e.principal = principal_;
    e.vno = k.kvno;
    e.timestamp = k.timestamp;
    e.key.enctype = k.enctype;
    e.key.length = static_cast<unsigned>(k.contents.size());
    e.key.contents = reinterpret_cast<krb5_octet*>(const_cast<char*>(k.contents.data()));
    if (auto rc = krb5_kt_add_entry(c, kt_, &e)) fail(rc, "in-memory keytab");  // copies the key
  }
}

ThreadKeytab::~ThreadKeytab() {
  release();
}

void ThreadKeytab::release() {
  clear();
  if (kt_) krb5_kt_close(ctx_.get(), kt_);
  kt_ = nullptr;
}

void ThreadKeytab::clear() {
  if (!kt_) return;
  auto c = ctx_.get();
  for (;;) {  // remove one entry at a time: a cursor does not survive a removal
    krb5_kt_cursor cursor{};
    if (krb5_kt_start_seq_get(c, kt_, &cursor)) break;
    krb5_keytab_entry e{};
    bool got = krb5_kt_next_entry(c, kt_, &e, &cursor) == 0;
    krb5_kt_end_seq_get(c, kt_, &cursor);
    if (!got) break;
    bool removed = krb5_kt_remove_entry(c, kt_, &e) == 0;
    krb5_free_keytab_entry_contents(c, &e);
    if (!removed) break;
  }
  if (principal_) {
    krb5_free_principal(c, principal_);
    principal_ = nullptr;
  }
}

}  // namespace detail

}  // namespace mobix::krb
