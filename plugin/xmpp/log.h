// A small structured logger: level, component, message and key=value fields.
// Injected by reference into whoever logs; there is no global logger.
#pragma once

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

namespace rpsync::log {

enum class Level { kDebug, kInfo, kWarn, kError };

std::string_view to_string(Level level);

struct Field {
  std::string_view key;
  std::string value;
};

// Implementations must be callable from any thread that uses the logging object;
// the rpsync component logs only from its io_context thread.
class Logger {
 public:
  virtual ~Logger() = default;
  virtual void write(Level level, std::string_view component, std::string_view message,
                     std::initializer_list<Field> fields) = 0;
};

// One line per record on stderr: `LEVEL component: message key=value ...`, values with
// spaces quoted. Records below `min_level` are dropped.
class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(Level min_level = Level::kInfo) : min_level_(min_level) {}
  void write(Level level, std::string_view component, std::string_view message,
             std::initializer_list<Field> fields) override;

 private:
  Level min_level_;
  std::mutex mutex_;
};

class NullLogger final : public Logger {
 public:
  void write(Level, std::string_view, std::string_view, std::initializer_list<Field>) override {}
};

// Formats a record the way StderrLogger prints it (without a trailing newline).
std::string format(Level level, std::string_view component, std::string_view message,
                   std::initializer_list<Field> fields);

}  // namespace rpsync::log
