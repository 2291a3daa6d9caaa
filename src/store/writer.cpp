#include "store/writer.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store/store.hpp"

namespace mobix {

StoreWriter::StoreWriter(ChangeLog& repo) : repo_(repo), thread_([this] { run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreWriter::submit(std::vector<Change> changes, Done done) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Item{std::move(changes), std::move(done)});
  }
  cv_.notify_one();
}

void StoreWriter::flush() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

std::size_t StoreWriter::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size() + (busy_ ? 1 : 0);
}

void StoreWriter::run() {
  static auto& commits =
      metrics().counter("mobix_store_commits_total", "Durable store transactions committed");
  static auto& failures = metrics().counter("mobix_store_commit_failures_total",
                                            "Store transactions that failed (changes not acknowledged)");
  // After a failure (the database unreachable), wait a little before the next attempt: requests
  // that arrive meanwhile are tried together, and a dead server does not get a connection storm.
  auto backoff = std::chrono::milliseconds(0);
  LogRateLimiter log_limit{2};
  for (;;) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mu_);
      if (backoff.count()) cv_.wait_for(lock, backoff, [this] { return stop_; });
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      batch.swap(queue_);
      busy_ = true;
    }
    std::vector<Change> all;
    for (auto& item : batch)
      for (auto& c : item.changes) all.push_back(std::move(c));
    bool ok = true;
    try {
      repo_.apply(all);
      commits.inc();
      if (!healthy_.exchange(true)) spdlog::info("store: commits succeed again");
      backoff = std::chrono::milliseconds(0);
    } catch (const std::exception& e) {
      ok = false;
      failures.inc();
      healthy_ = false;
      backoff =
          std::min(std::max(backoff * 2, std::chrono::milliseconds(50)), std::chrono::milliseconds(1000));
      auto suppressed = log_limit.allow("commit");
      if (suppressed >= 0)
        spdlog::error("store commit of {} changes failed: {}; requests stay unanswered so peers retry{}",
                      all.size(), e.what(),
                      suppressed ? fmt::format(" ({} similar suppressed)", suppressed) : std::string());
    }
    for (auto& item : batch)
      if (item.done) item.done(ok);
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace mobix
