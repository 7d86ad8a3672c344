// SPDX-License-Identifier: MIT
#include "plugin/app/notify.h"

#include <string>

#if RPSYNC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace rpsync::app {
namespace {

// STATUS= is one line: a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

Notifier::Notifier() {
#if RPSYNC_HAVE_SYSTEMD
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
    watchdog_interval_ = std::chrono::microseconds(usec / 2);
#endif
}

bool Notifier::compiled_in() { return RPSYNC_HAVE_SYSTEMD != 0; }

void Notifier::send(const std::string& message) {
#if RPSYNC_HAVE_SYSTEMD
  sd_notify(0, message.c_str());
#else
  (void)message;
#endif
}

void Notifier::status(std::string_view text) { send("STATUS=" + one_line(text)); }
void Notifier::ready(std::string_view text) { send("READY=1\nSTATUS=" + one_line(text)); }
void Notifier::reloading() { send("RELOADING=1\nSTATUS=reloading configuration"); }
void Notifier::stopping() { send("STOPPING=1\nSTATUS=stopping"); }
void Notifier::watchdog() { send("WATCHDOG=1"); }

}  // namespace rpsync::app
