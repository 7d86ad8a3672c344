// SPDX-License-Identifier: MIT
// Structured logging shared by every layer of the component: level, component (the
// layer: "xmpp", "service", "app", ...), message and key=value fields, one line each:
//   2026-11-21T21:50:03.120Z INFO service: sync.delta user=alice@example.test items=3
// Loggers are injected by reference; there is no global logger. Implementations must be
// safe to call from any thread (the component logs from its io_context thread).
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

std::string_view to_string(Level level);              // "DEBUG" "INFO" "WARN" "ERROR"
std::optional<Level> level_from(std::string_view s);  // "debug" "info" "warn" "error"

struct Field {
  std::string_view key;
  std::string value;
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, std::string&& v) : key(k), value(std::move(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  template <class N>
    requires(std::is_arithmetic_v<N> && !std::is_same_v<N, bool> && !std::is_same_v<N, char>)
  Field(std::string_view k, N v) : key(k), value(std::to_string(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v ? "yes" : "no") {}
};

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void write(Level level, std::string_view component, std::string_view message,
                     std::initializer_list<Field> fields) = 0;

  void debug(std::string_view component, std::string_view message,
             std::initializer_list<Field> fields = {}) {
    write(Level::kDebug, component, message, fields);
  }
  void info(std::string_view component, std::string_view message,
            std::initializer_list<Field> fields = {}) {
    write(Level::kInfo, component, message, fields);
  }
  void warn(std::string_view component, std::string_view message,
            std::initializer_list<Field> fields = {}) {
    write(Level::kWarn, component, message, fields);
  }
  void error(std::string_view component, std::string_view message,
             std::initializer_list<Field> fields = {}) {
    write(Level::kError, component, message, fields);
  }
};

// One timestamped line per record (UTC, milliseconds) to `out`, records below
// `min_level` dropped. Values that are empty or hold spaces, tabs, newlines or quotes
// are quoted.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(Level min_level = Level::kInfo, std::FILE* out = stderr)
      : min_level_(min_level), out_(out) {}
  void write(Level level, std::string_view component, std::string_view message,
             std::initializer_list<Field> fields) override;

 private:
  Level min_level_;
  std::FILE* out_;
  std::mutex mutex_;
};

class NullLogger final : public Logger {
 public:
  void write(Level, std::string_view, std::string_view, std::initializer_list<Field>) override {}
};

// A record as StderrLogger prints it, without timestamp and newline:
//   `LEVEL component: message key=value ...`
std::string format(Level level, std::string_view component, std::string_view message,
                   std::initializer_list<Field> fields);

}  // namespace rpsync::log
