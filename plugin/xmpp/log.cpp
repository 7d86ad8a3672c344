#include "plugin/xmpp/log.h"

#include <cstdio>

namespace rpsync::log {

std::string_view to_string(Level level) {
  switch (level) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
  }
  return "?";
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
  std::string line = format(level, component, message, fields);
  line += '\n';
  std::lock_guard lock(mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace rpsync::log
