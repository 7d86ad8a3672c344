// SPDX-License-Identifier: MIT
// systemd's service notification protocol (sd_notify(3)) for Type=notify units: READY=1,
// STATUS=, WATCHDOG=1, RELOADING=1, STOPPING=1. Every call is a no-op when the process
// was not started by systemd (no NOTIFY_SOCKET) or the component was built without
// libsystemd (CMake says so at configure time). Call from the event loop's thread.
#pragma once

#include <chrono>
#include <string_view>

namespace rpsync::app {

class Notifier {
 public:
  Notifier();
  // Built with libsystemd (whether or not systemd is listening).
  static bool compiled_in();
  // STATUS=<text>
  void status(std::string_view text);
  // READY=1 with STATUS=<text>
  void ready(std::string_view text);
  void reloading();
  void stopping();
  void watchdog();
  // How often to call watchdog(): half of the unit's WatchdogSec (WATCHDOG_USEC), zero
  // when the watchdog is off.
  std::chrono::microseconds watchdog_interval() const { return watchdog_interval_; }

 private:
  void send(const std::string& message);
  std::chrono::microseconds watchdog_interval_{0};
};

}  // namespace rpsync::app
