#pragma once
// Sends the session-driven record changes of one zone to the operator's own DNS server as
// RFC 2136 UPDATE messages signed with TSIG (RFC 8945, hmac-sha256), in order, batched, retried
// with backoff until the server accepts them. Runs on its own thread: senders never block.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/net.hpp"

namespace mobix {
class Counter;
}

namespace mobix::dns {

struct UpdateServerConfig {
  Endpoint server;
  std::string key_name;
  std::string key_secret;  ///< base64, as tsig-keygen prints it; never logged
  std::string algorithm = "hmac-sha256";
  std::uint32_t batch = 100;  ///< changes per UPDATE message
  std::uint32_t timeout_ms = 2000;
};

/// One change to one RRset. `put` replaces the RRset with `rdata`; `drop` deletes exactly that
/// RR (RFC 2136 2.5.4), so it never removes a value a newer session wrote.
struct RecordChange {
  enum class Op { put, drop } op;
  std::string name;
  std::uint16_t type;
  std::uint32_t ttl;
  std::string rdata;
  std::string sid;  ///< drop: the ended session, when its removal is journaled in the store
};

class UpdateClient {
 public:
  using Applied = std::function<void(const std::deque<RecordChange>& batch)>;
  /// `applied` runs on the client's thread after the server accepted a batch.
  UpdateClient(std::string zone, UpdateServerConfig cfg, Applied applied = {});
  ~UpdateClient();
  void submit(RecordChange c);
  /// Waits until everything submitted was accepted by the server, or `ms` passed.
  bool flush(int ms);
  std::size_t pending() const;

  /// Outcome of one UPDATE message: NOERROR (0), an RCODE, or -1 for no (valid) answer.
  struct Result {
    int rcode = -1;
    std::string error;
  };
  /// Sends one UPDATE with `changes` now (used by the worker, the tests and the benchmark).
  static Result send(const std::string& zone, const UpdateServerConfig& cfg,
                     const std::deque<RecordChange>& changes, std::size_t count);

 private:
  void run();
  std::string zone_;
  UpdateServerConfig cfg_;
  Applied applied_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<RecordChange> queue_;
  bool in_flight_ = false;
  bool stopping_ = false;
  Counter& sent_;
  Counter& failed_;
  std::thread worker_;
};

}  // namespace mobix::dns
