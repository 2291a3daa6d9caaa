#pragma once
// Internal to src/mail: the handset connections each proxy holds, by the handset's address, so that
// when the access session holding an address ends (a detach, or the address taken over by another
// subscriber) every live connection from it closes: a proxied session never outlives the identity it
// was opened for (issue 12 item 6).
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>

namespace mobix::mail {

class LiveConnections {
 public:
  using Close = std::function<void()>;
  class Tracked {
   public:
    Tracked(LiveConnections* owner, std::string ip, std::uint64_t key)
        : owner_(owner), ip_(std::move(ip)), key_(key) {}
    Tracked(const Tracked&) = delete;
    Tracked& operator=(const Tracked&) = delete;
    ~Tracked() { owner_->forget(ip_, key_); }

   private:
    LiveConnections* owner_;
    std::string ip_;
    std::uint64_t key_;
  };

  /// Tracks one connection from `ip` for as long as the returned object lives; `close` ends it.
  Tracked track(const std::string& ip, Close close);
  /// Closes every tracked connection from `ip`; returns how many. Called on the io thread.
  std::size_t close_all(const std::string& ip);
  std::size_t size() const { return count_; }

 private:
  void forget(const std::string& ip, std::uint64_t key);
  std::unordered_map<std::string, std::unordered_map<std::uint64_t, Close>> by_ip_;
  std::uint64_t next_ = 1;
  std::size_t count_ = 0;
};

}  // namespace mobix::mail
