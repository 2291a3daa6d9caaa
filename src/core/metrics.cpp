#include "core/metrics.hpp"

#include <fmt/format.h>

namespace mobix {

Counter& Metrics::counter(const std::string& name, const std::string& help, const std::string& labels) {
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  if (fam.type.empty()) {
    fam.type = "counter";
    fam.help = help;
  }
  auto& slot = fam.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

void Metrics::gauge(const std::string& name, const std::string& help, std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  fam.type = "gauge";
  fam.help = help;
  fam.gauge = std::move(read);
}

void Metrics::gauge_family(const std::string& name, const std::string& help,
                           std::function<std::vector<std::pair<std::string, double>>()> read) {
  std::lock_guard lock(mu_);
  auto& fam = families_[name];
  fam.type = "gauge";
  fam.help = help;
  fam.gauges = std::move(read);
}

std::string Metrics::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, fam.help, name, fam.type);
    if (fam.gauge) {
      out += fmt::format("{} {}\n", name, fam.gauge());
      continue;
    }
    if (fam.gauges) {
      for (const auto& [labels, v] : fam.gauges()) out += fmt::format("{}{{{}}} {}\n", name, labels, v);
      continue;
    }
    for (const auto& [labels, c] : fam.counters) {
      if (labels.empty())
        out += fmt::format("{} {}\n", name, c->value());
      else
        out += fmt::format("{}{{{}}} {}\n", name, labels, c->value());
    }
  }
  return out;
}

Metrics& metrics() {
  static Metrics m;
  return m;
}

}  // namespace mobix
