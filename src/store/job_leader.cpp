#include "store/job_leader.hpp"

#include <spdlog/spdlog.h>

#include "core/metrics.hpp"
#include "store/store.hpp"

namespace mobix {

JobLeader::JobLeader(JobLeaseRepository& repo, std::chrono::milliseconds ttl)
    : repo_(repo), ttl_(ttl), holder_(repo.job_holder()), leading_(std::make_shared<Leading>()) {
  // The gauge keeps what it reads alive: /metrics may be rendered after this object is gone.
  metrics().gauge_family("mobix_job_leader", "1 while this node runs the singleton job, by job",
                         [leading = leading_] {
                           std::lock_guard lock(leading->mu);
                           std::vector<std::pair<std::string, double>> out;
                           for (const auto& [job, on] : leading->by_job)
                             out.emplace_back("job=\"" + job + "\"", on ? 1.0 : 0.0);
                           return out;
                         });
}

JobLeader::~JobLeader() {
  stop();
}

void JobLeader::stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& job : jobs_) {
    if (!job.lease) continue;
    std::lock_guard shown(leading_->mu);
    leading_->by_job[job.name] = false;
    try {
      repo_.release_job(*job.lease);
      spdlog::info("jobs: released {} (epoch {})", job.name, job.lease->epoch);
    } catch (const std::exception& e) {
      spdlog::warn("jobs: cannot release {}: {}; another node takes it over when the lease runs out",
                   job.name, e.what());
    }
  }
}

void JobLeader::add(const std::string& job, Changed changed) {
  std::lock_guard lock(mu_);
  jobs_.push_back(Job{job, std::move(changed), std::nullopt, {}, false});
  std::lock_guard shown(leading_->mu);
  leading_->by_job[job] = false;
}

void JobLeader::start() {
  thread_ = std::thread([this] { run(); });
}

std::optional<JobLease> JobLeader::held(const std::string& job) const {
  std::lock_guard lock(mu_);
  for (const auto& j : jobs_)
    if (j.name == job && j.lease && std::chrono::steady_clock::now() < j.valid_until) return j.lease;
  return std::nullopt;
}

std::optional<bool> JobLeader::renew(Job& job) {
  static auto& takeovers = metrics().counter("mobix_job_takeovers_total",
                                             "Singleton jobs this node took (over), each time it gained one");
  static auto& failures = metrics().counter("mobix_job_claim_failures_total",
                                            "Job lease claims or renewals the store did not answer");
  const auto sent = std::chrono::steady_clock::now();
  std::optional<std::int64_t> epoch;
  bool unanswered = false;
  try {
    epoch = repo_.claim_job(job.name, holder_, ttl_.count());
  } catch (const std::exception& e) {
    failures.inc();
    unanswered = true;
    spdlog::warn("jobs: cannot renew {}: {}", job.name, e.what());
  }
  std::lock_guard lock(mu_);
  bool leading = false;
  if (epoch) {
    // The lease runs from the store's clock at the claim, which is after `sent`; keep a margin.
    job.lease = JobLease{job.name, holder_, *epoch};
    job.valid_until = sent + ttl_ - ttl_ / 5;
    leading = true;
  } else if (unanswered) {
    leading = job.lease && std::chrono::steady_clock::now() < job.valid_until;  // until it runs out
  } else {
    job.lease.reset();  // another holder has it (also what a holder that stalled finds on waking)
  }
  if (leading == job.reported) return std::nullopt;
  job.reported = leading;
  if (leading) takeovers.inc();
  return leading;
}

void JobLeader::run() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    for (std::size_t i = 0;; ++i) {
      Job* job = nullptr;
      {
        std::lock_guard lock(mu_);
        if (i >= jobs_.size()) break;
        job = &jobs_[i];  // jobs are added before start() and never removed
      }
      auto change = renew(*job);
      if (!change) continue;
      if (auto lease = held(job->name); *change)
        spdlog::info("jobs: this node now runs {} (epoch {})", job->name, lease ? lease->epoch : 0);
      else
        spdlog::warn("jobs: this node no longer runs {} (another node holds it or the lease ran out)",
                     job->name);
      {
        std::lock_guard shown(leading_->mu);
        leading_->by_job[job->name] = *change;
      }
      if (job->changed) job->changed(*change);
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, ttl_ / 3, [this] { return stop_; });
  }
}

}  // namespace mobix
