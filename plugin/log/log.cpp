// SPDX-License-Identifier: MIT
#include "plugin/log/log.h"

#include <chrono>
#include <ctime>

namespace rpsync::log {
namespace {

std::string now_utc() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::time_t t = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", date, static_cast<int>(ms));
  return out;
}

}  // namespace

std::string_view to_string(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "?";
}

std::optional<Level> level_from(std::string_view s) {
  if (s == "debug") return Level::kDebug;
  if (s == "info") return Level::kInfo;
  if (s == "warn") return Level::kWarn;
  if (s == "error") return Level::kError;
  return std::nullopt;
}

std::string format(Level level, std::string_view component, std::string_view message,
                   std::initializer_list<Field> fields) {
  std::string line(to_string(level));
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  for (const auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    bool quote = f.value.empty() || f.value.find_first_of(" \t\n\"") != std::string::npos;
    if (!quote) {
      line += f.value;
      continue;
    }
    line += '"';
    for (char c : f.value) {
      if (c == '"' || c == '\\') line += '\\';
      line += c == '\n' ? ' ' : c;
    }
    line += '"';
  }
  return line;
}

void StderrLogger::write(Level level, std::string_view component, std::string_view message,
                         std::initializer_list<Field> fields) {
  if (level < min_level_) return;
  std::string line = now_utc();
  line += ' ';
  line += format(level, component, message, fields);
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace rpsync::log
