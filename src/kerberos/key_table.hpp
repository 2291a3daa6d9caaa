#pragma once
// The devices' keys for the mobility manager (seed 003, claim 1: the identity code is the user
// identity and its key is held by the mobility manager, never by the base station). MIT's FILE keytab
// is read from its start on every lookup, twice per AS exchange; at 100,000 devices that is
// gigabytes per bootstrap wave. The keys are read once, indexed by principal, and re-read when the
// files change. Each use gets a private in-memory keytab holding one principal's keys.
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace mobix::krb {

/// One key of a principal, as a keytab stores it. The key bytes are wiped when it is destroyed.
struct DeviceKey {
  std::uint32_t kvno = 0;
  std::int32_t enctype = 0;
  std::string contents;
  std::uint32_t timestamp = 0;
  DeviceKey() = default;
  DeviceKey(const DeviceKey&) = default;
  DeviceKey& operator=(const DeviceKey&) = default;
  ~DeviceKey();
};

/// A principal's keys (every kvno and enctype the keytab holds for it).
using PrincipalKeys = std::vector<DeviceKey>;

class KeyTable {
 public:
  /// `path` is a keytab file or a directory of keytab files (kadmin's ktadd grows one file in
  /// quadratic time, so a large device base is kept in batches). Throws KerberosError (no_key) when
  /// nothing can be read.
  explicit KeyTable(std::string path);
  ~KeyTable();
  KeyTable(const KeyTable&) = delete;
  KeyTable& operator=(const KeyTable&) = delete;

  /// The keys of `principal` ("name@REALM"), or null. Re-reads the keytab first when its files changed
  /// (looked at no more than once a second); a keytab that became unreadable keeps the last good keys.
  /// May read the disk: call it off the io threads.
  std::shared_ptr<const PrincipalKeys> keys_of(const std::string& principal);
  /// The keys as last read, without looking at the files (for the io thread, which must not block).
  std::shared_ptr<const PrincipalKeys> cached_keys_of(const std::string& principal);
  std::size_t principals();
  const std::string& path() const { return path_; }

 private:
  using Index = std::unordered_map<std::string, std::shared_ptr<const PrincipalKeys>>;
  std::string signature() const;  ///< names, sizes and modification times of the files
  void refresh_if_changed();

  std::string path_;
  std::mutex mutex_;
  std::shared_ptr<const Index> index_;
  std::string signature_;
  std::chrono::steady_clock::time_point checked_{};
};

}  // namespace mobix::krb
