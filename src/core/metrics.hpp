#pragma once
// Prometheus metrics: counters and gauges registered once, rendered in the text
// exposition format (https://prometheus.io/docs/instrumenting/exposition_formats/).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mobix {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Metrics {
 public:
  /// Returns the counter `name{labels}`; the same arguments always return the same object.
  /// `labels` is the inside of the braces, e.g. `reason="bad_authenticator"`.
  Counter& counter(const std::string& name, const std::string& help, const std::string& labels = "");
  /// A gauge whose value is read when /metrics is rendered.
  void gauge(const std::string& name, const std::string& help, std::function<double()> read);
  /// A gauge with labels whose values are read together when /metrics is rendered: `read` returns
  /// (labels, value) pairs, e.g. {"state=\"online\"", 3}.
  void gauge_family(const std::string& name, const std::string& help,
                    std::function<std::vector<std::pair<std::string, double>>()> read);
  std::string render() const;

 private:
  struct Family {
    std::string help;
    std::string type;
    std::map<std::string, std::unique_ptr<Counter>> counters;
    std::function<double()> gauge;
    std::function<std::vector<std::pair<std::string, double>>()> gauges;
  };
  mutable std::mutex mu_;
  std::map<std::string, Family> families_;
};

/// The process-wide registry.
Metrics& metrics();

}  // namespace mobix
