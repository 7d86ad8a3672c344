// SPDX-License-Identifier: MIT
// What an operator (systemd, the metrics endpoint, the stats line) sees of the component's
// connection: connecting -> connected -> privileged, reconnecting (with the reason),
// reloading, stopping. READY=1 goes to systemd the first time the component is connected
// AND the server granted the privileges it needs (XEP-0356 advertisement): before that it
// cannot observe presence, so it is not ready. Every change also updates STATUS=.
// Call from the event loop's thread.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "plugin/app/notify.h"
#include "plugin/log/log.h"

namespace rpsync::app {

class Lifecycle {
 public:
  Lifecycle(Notifier& notifier, log::Logger& log);

  void connecting(std::string_view server);
  // After the handshake and the privilege advertisement (or its timeout).
  void connected(bool privileged);
  void privileges(bool privileged);
  // Any end of a connection attempt, failed attempts included.
  void disconnected(std::string_view reason);
  void reload_begin();
  void reload_end(bool ok);
  void stopping();

  bool connected() const { return connected_; }
  bool privileged() const { return connected_ && privileged_; }
  // Seconds since the Lifecycle was made (the process start, for the app).
  double uptime_s() const;
  std::string status_text() const;

 private:
  void publish();

  Notifier& notifier_;
  log::Logger& log_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::string status_ = "starting";
  bool connected_ = false;
  bool privileged_ = false;
  bool ready_sent_ = false;
  bool stopping_ = false;
};

}  // namespace rpsync::app
