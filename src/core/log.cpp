#include "core/log.hpp"

#include <unistd.h>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace mobix {
namespace {

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// One JSON object per line on stderr: {"ts":..,"level":..,"logger":..,"msg":..}.
class JsonStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string line;
    line.reserve(msg.payload.size() + 96);
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(msg.time.time_since_epoch()).count();
    std::time_t secs = static_cast<std::time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    line += "{\"ts\":\"";
    line += when + fmt::format(".{:06d}Z\"", us % 1000000);
    line += ",\"level\":";
    auto lv = spdlog::level::to_string_view(msg.level);
    append_json_string(line, std::string_view(lv.data(), lv.size()));
    line += ",\"logger\":";
    append_json_string(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line += ",\"msg\":";
    append_json_string(line, std::string_view(msg.payload.data(), msg.payload.size()));
    line += "}\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

LogFormat parse_log_format(std::string_view s) {
  if (s == "text") return LogFormat::text;
  if (s == "json") return LogFormat::json;
  throw std::invalid_argument("log format must be 'text' or 'json'");
}

void init_logging(LogFormat format, std::string_view level) {
  spdlog::drop("mobix");  // init_logging may run twice (CLI flags, then the config's log section)
  std::shared_ptr<spdlog::logger> logger;
  if (format == LogFormat::json) {
    logger = std::make_shared<spdlog::logger>("mobix", std::make_shared<JsonStderrSink>());
  } else {
    logger = spdlog::stderr_color_mt("mobix");
    logger->set_pattern(isatty(STDERR_FILENO) ? "%H:%M:%S.%e %^%-5l%$ %v" : "%Y-%m-%dT%H:%M:%S.%e %l %v");
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

long LogRateLimiter::allow(std::string_view key) {
  std::lock_guard lock(mu_);
  auto now = std::chrono::steady_clock::now();
  auto& b = buckets_[std::string(key)];
  if (now - b.window >= std::chrono::seconds(1)) {
    b.window = now;
    b.used = 0;
  }
  if (b.used >= per_second_) {
    ++b.suppressed;
    return -1;
  }
  ++b.used;
  long s = b.suppressed;
  b.suppressed = 0;
  return s;
}

}  // namespace mobix
