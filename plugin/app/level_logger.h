// SPDX-License-Identifier: MIT
// A Logger whose minimum level changes while running (a SIGHUP reload of log.level):
// records below the level are dropped, the rest go to the wrapped logger. The level is
// atomic, so any thread may log while the loop changes it.
#pragma once

#include <atomic>

#include "plugin/log/log.h"

namespace rpsync::app {

class LevelLogger final : public log::Logger {
 public:
  LevelLogger(log::Logger& out, log::Level level) : out_(out), level_(level) {}
  void set_level(log::Level level) { level_.store(level); }
  log::Level level() const { return level_.load(); }
  void write(log::Level level, std::string_view component, std::string_view message,
             std::initializer_list<log::Field> fields) override {
    if (level < level_.load()) return;
    out_.write(level, component, message, fields);
  }

 private:
  log::Logger& out_;
  std::atomic<log::Level> level_;
};

}  // namespace rpsync::app
