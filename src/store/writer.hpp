#pragma once
// Group commit: changes from many requests are written in one durable transaction by a
// dedicated thread; each submitter's callback runs after its batch is on disk.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "store/records.hpp"

namespace mobix {

class ChangeLog;

class StoreWriter {
 public:
  enum class Outcome {
    committed,
    failed,              ///< nothing of the batch was written (the store unreachable, an error)
    offer_taken,         ///< committed, except a pool offer: another subscriber holds that address
    binding_superseded,  ///< committed, except a binding: another node stored a later registration
  };
  /// `done(outcome, refused)` runs on the writer thread; post to your executor from it. `refused`:
  /// what of this submission was not written (offer_taken, binding_superseded only).
  using Done = std::function<void(Outcome, Refused refused)>;

  explicit StoreWriter(ChangeLog& log);
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// With `fence`, the changes are a singleton job's: committed in a transaction of their own only
  /// while the job's lease is still `fence` (otherwise `failed`, counted and logged).
  void submit(std::vector<Change> changes, Done done, std::optional<JobLease> fence = std::nullopt);
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
    std::optional<JobLease> fence;
  };
  /// Commits the fenced items, each in its own transaction.
  void commit_fenced(std::deque<Item>& items);
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
