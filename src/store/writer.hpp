#pragma once
// Group commit: changes from many requests are written in one durable transaction by a
// dedicated thread; each submitter's callback runs after its batch is on disk.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/records.hpp"

namespace mobix {

class ChangeLog;

class StoreWriter {
 public:
  /// `done(ok)` runs on the writer thread; post to your executor from it.
  using Done = std::function<void(bool ok)>;

  explicit StoreWriter(ChangeLog& log);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  void submit(std::vector<Change> changes, Done done);
  /// Blocks until everything submitted so far is committed.
  void flush();
  std::size_t pending() const;
  /// False from a failed commit until the next one succeeds (/healthz says "degraded").
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  void run();
  struct Item {
    std::vector<Change> changes;
    Done done;
  };
  ChangeLog& repo_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<Item> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::atomic<bool> healthy_{true};
  std::thread thread_;
};

}  // namespace mobix
