// SPDX-License-Identifier: MIT
#include "plugin/app/lifecycle.h"

namespace rpsync::app {

Lifecycle::Lifecycle(Notifier& notifier, log::Logger& log) : notifier_(notifier), log_(log) {}

double Lifecycle::uptime_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Lifecycle::status_text() const { return status_; }

// READY=1 once, the first time connected and privileged; STATUS= on every change.
void Lifecycle::publish() {
  if (stopping_) return;
  if (!ready_sent_ && privileged()) {
    ready_sent_ = true;
    // Logged first: whoever reads READY=1 finds the line already written.
    log_.info("app", "systemd.ready", {{"status", status_}});
    notifier_.ready(status_);
    return;
  }
  notifier_.status(status_);
}

void Lifecycle::connecting(std::string_view server) {
  status_ = "connecting to " + std::string(server);
  publish();
}

void Lifecycle::connected(bool privileged) {
  connected_ = true;
  privileged_ = privileged;
  status_ = privileged ? "connected, privileged" : "connected, waiting for privileges";
  publish();
}

void Lifecycle::privileges(bool privileged) {
  privileged_ = privileged;
  status_ = privileged ? "connected, privileged" : "connected, privileges withdrawn";
  publish();
}

void Lifecycle::disconnected(std::string_view reason) {
  connected_ = false;
  privileged_ = false;
  status_ = "reconnecting: " + std::string(reason);
  publish();
}

void Lifecycle::reload_begin() {
  if (!stopping_) notifier_.reloading();
}

// systemd leaves the reloading state at READY=1; a component that was never ready says
// only its status, so READY=1 still means "privileged" the first time it is sent.
void Lifecycle::reload_end(bool ok) {
  if (stopping_) return;
  const std::string s = status_ + (ok ? "" : " (last reload failed)");
  if (ready_sent_)
    notifier_.ready(s);
  else
    notifier_.status(s);
}

void Lifecycle::stopping() {
  stopping_ = true;
  status_ = "stopping";
  notifier_.stopping();
}

}  // namespace rpsync::app
