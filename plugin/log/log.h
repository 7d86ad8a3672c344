// Structured logging for the component: one line per event, logfmt-style
//   2026-11-21T21:50:03.120Z info sync.answered user=alice@example.test items=3 bytes=412
// Loggers are passed down explicitly (no globals). Thread-safe: write() may be called
// from any thread.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace rpsync::log {

enum class Level { kDebug, kInfo, kWarn, kError };

std::string_view to_string(Level l);
std::optional<Level> level_from(std::string_view s);  // "debug" "info" "warn" "error"

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class N>
    requires std::is_arithmetic_v<N>
  Field(std::string_view k, N v) : key(k), value(std::to_string(v)) {}
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool enabled(Level level) const = 0;
  virtual void write(Level level, std::string_view event, std::initializer_list<Field> fields) = 0;

  void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::kDebug)) write(Level::kDebug, event, fields);
  }
  void info(std::string_view event, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::kInfo)) write(Level::kInfo, event, fields);
  }
  void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::kWarn)) write(Level::kWarn, event, fields);
  }
  void error(std::string_view event, std::initializer_list<Field> fields = {}) {
    if (enabled(Level::kError)) write(Level::kError, event, fields);
  }
};

// Writes lines to a FILE* (stderr by default); values with spaces, quotes or '=' are quoted.
class FileLogger final : public Logger {
 public:
  explicit FileLogger(Level min_level, std::FILE* out = stderr) : min_(min_level), out_(out) {}
  bool enabled(Level level) const override { return level >= min_; }
  void write(Level level, std::string_view event, std::initializer_list<Field> fields) override;

 private:
  Level min_;
  std::FILE* out_;
  std::mutex mu_;
};

// Discards everything (tests, benchmarks).
class NullLogger final : public Logger {
 public:
  bool enabled(Level) const override { return false; }
  void write(Level, std::string_view, std::initializer_list<Field>) override {}
};

// One formatted line without the trailing newline (exposed for tests).
std::string format_line(Level level, std::string_view event, std::initializer_list<Field> fields,
                        std::string_view timestamp);

}  // namespace rpsync::log
