#pragma once
// Structured logging: human-readable on a terminal, one JSON object per line with
// --log-format json. Never pass secrets to these functions.
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include <spdlog/spdlog.h>

namespace mobix {

enum class LogFormat { text, json };

/// Installs the process-wide logger. `level` is an spdlog level name (trace..critical).
void init_logging(LogFormat format, std::string_view level);

/// Parses "text"/"json"; throws std::invalid_argument otherwise.
LogFormat parse_log_format(std::string_view s);

/// Lets at most `per_second` messages per key through; the rest are counted and
/// summarised on the next message that passes ("N similar suppressed").
class LogRateLimiter {
 public:
  explicit LogRateLimiter(unsigned per_second = 5) : per_second_(per_second) {}
  /// Returns the number of suppressed messages (>= 0) when this one may be logged, or -1.
  long allow(std::string_view key);

 private:
  struct Bucket {
    std::chrono::steady_clock::time_point window{};
    unsigned used = 0;
    long suppressed = 0;
  };
  unsigned per_second_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace mobix
