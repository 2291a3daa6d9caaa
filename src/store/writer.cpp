#include "store/writer.hpp"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <span>

#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store/store.hpp"

namespace mobix {

namespace {

/// What of `changes` (one submission) the store refused: offers matched by pool, address and
/// subscriber; bindings by home address (the store's newer binding is handed on).
Refused refused_of(std::span<const Change> changes, const Refused& refused) {
  Refused out;
  if (refused.empty()) return out;
  for (const auto& c : changes) {
    if (c.kind == Change::Kind::put_lease && !c.lease.bound) {
      for (const auto& r : refused.offers)
        if (r.pool == c.lease.pool && r.ip == c.lease.ip && r.subscriber_id == c.lease.subscriber_id)
          out.offers.push_back(c.lease);
    } else if (c.kind == Change::Kind::put_mobility_binding) {
      for (const auto& b : refused.bindings)
        if (b.home_address == c.binding.home_address) out.bindings.push_back(b);
    }
  }
  return out;
}

StoreWriter::Outcome outcome_of(const Refused& r) {
  if (!r.offers.empty()) return StoreWriter::Outcome::offer_taken;
  if (!r.bindings.empty()) return StoreWriter::Outcome::binding_superseded;
  return StoreWriter::Outcome::committed;
}

}  // namespace

StoreWriter::StoreWriter(ChangeLog& repo) : repo_(repo), thread_([this] { run(); }) {}

StoreWriter::~StoreWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StoreWriter::submit(std::vector<Change> changes, Done done, std::optional<JobLease> fence) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(Item{std::move(changes), std::move(done), std::move(fence)});
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

void StoreWriter::commit_fenced(std::deque<Item>& items) {
  static auto& fenced =
      metrics().counter("mobix_store_fenced_writes_total",
                        "Singleton job writes refused because another node took the job over");
  for (auto& item : items) {
    auto outcome = Outcome::committed;
    Refused refused;
    try {
      refused = refused_of(item.changes, repo_.apply(item.changes, &*item.fence));
      outcome = outcome_of(refused);
    } catch (const StoreFenced& e) {
      outcome = Outcome::failed;
      fenced.inc();
      spdlog::warn("store: {}", e.what());
    } catch (const std::exception& e) {
      outcome = Outcome::failed;
      spdlog::error("store: job {} commit failed: {}", item.fence->job, e.what());
    }
    if (item.done) item.done(outcome, std::move(refused));
  }
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
    // A singleton job's changes must not share a transaction: if its lease was taken over, only
    // they are refused.
    auto unfenced_end =
        std::stable_partition(batch.begin(), batch.end(), [](const Item& i) { return !i.fence; });
    std::deque<Item> fenced(std::make_move_iterator(unfenced_end), std::make_move_iterator(batch.end()));
    batch.erase(unfenced_end, batch.end());
    commit_fenced(fenced);
    std::vector<Change> all;
    std::vector<std::size_t> ends;  // where each item's changes end in `all`
    for (auto& item : batch) {
      for (auto& c : item.changes) all.push_back(std::move(c));
      ends.push_back(all.size());
    }
    bool ok = true;
    Refused refused;
    try {
      if (!all.empty()) refused = repo_.apply(all, nullptr);
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
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& item = batch[i];
      if (!item.done) continue;
      if (!ok) {
        item.done(Outcome::failed, {});
        continue;
      }
      auto mine =
          refused_of(std::span(all).subspan(i ? ends[i - 1] : 0, ends[i] - (i ? ends[i - 1] : 0)), refused);
      auto outcome = outcome_of(mine);  // before the move below
      item.done(outcome, std::move(mine));
    }
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

}  // namespace mobix
