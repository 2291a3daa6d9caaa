#pragma once
// Singleton work between nodes that share a store (issue 14 item 5): session expiry, the RFC 2136
// update queue, the box call-back sweep run on one node at a time. A thread claims and renews each
// job's lease (JobLeaseRepository, on the store's clock) every third of its time; a role asks
// held(job) before it runs the job and passes the lease as the fence of the job's writes, so a
// former holder that stalled past its lease cannot write (StoreWriter::submit).
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/records.hpp"

namespace mobix {

class JobLeaseRepository;

class JobLeader {
 public:
  /// Runs on the leader's thread when this node gains (true) or loses (false) a job.
  using Changed = std::function<void(bool leading)>;

  JobLeader(JobLeaseRepository& repo, std::chrono::milliseconds ttl);
  /// stop()s.
  ~JobLeader();
  JobLeader(const JobLeader&) = delete;
  JobLeader& operator=(const JobLeader&) = delete;

  /// Registers a job; the first claim happens on the next round (at once after start()).
  void add(const std::string& job, Changed changed = {});
  void start();
  /// Stops renewing and releases the jobs it holds, so another node takes them over at once. No
  /// `changed` runs after it returns. Call it before the roles that registered jobs go away.
  void stop();
  /// The lease to fence the job's writes with, while this node holds it (and its lease has not run
  /// out by this node's clock: a renewal that did not come back counts as lost).
  std::optional<JobLease> held(const std::string& job) const;
  std::chrono::milliseconds ttl() const { return ttl_; }

 private:
  struct Job {
    std::string name;
    Changed changed;
    std::optional<JobLease> lease;
    std::chrono::steady_clock::time_point valid_until;
    bool reported = false;  ///< what `changed` and the gauge were last told
  };
  void run();
  /// One claim or renewal; returns the change to report (gained or lost), if any.
  std::optional<bool> renew(Job& job);

  /// What the mobix_job_leader gauge shows.
  struct Leading {
    std::mutex mu;
    std::map<std::string, bool> by_job;
  };

  JobLeaseRepository& repo_;
  const std::chrono::milliseconds ttl_;
  const std::string holder_;
  std::shared_ptr<Leading> leading_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Job> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace mobix
