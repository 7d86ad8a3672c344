// SPDX-License-Identifier: MIT
// CheckpointSchedule: when RpsyncManager sends the next <checkpoint/>. One is due once
// presence is quiet (checkpoint_quiet since the last contact presence and since the last
// checkpoint) and the live view changed since the last answer, or the last answer's
// digest differed (retried a few times, then only on the next change or the interval, so
// a lasting disagreement cannot cause a request storm); and at the latest every
// checkpoint_interval. Pure bookkeeping: the manager sends and reads the answers.
#pragma once

#include <chrono>

namespace rpsync::client {

class CheckpointSchedule {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr int kMismatchRetries = 3;

  CheckpointSchedule(std::chrono::milliseconds quiet, std::chrono::milliseconds interval)
      : quiet_(quiet), interval_(interval) {}

  // A contact's presence changed the live view.
  void presence_changed() {
    dirty_ = true;
    retries_left_ = kMismatchRetries;
  }
  // The component holds a fresh key (an enable or sync answer) whose state is `now`'s.
  void key_received(TimePoint now) { last_checkpoint_at_ = now; }
  // A checkpoint went out at `now`, or the component asked to wait: the interval restarts.
  void sent(TimePoint now) { last_checkpoint_at_ = now; }
  // Nothing is owed to the component (a new login, or a flood that makes it dirty again).
  void settle() { dirty_ = false; }
  // The mismatch budget is full again (after an enable answer).
  void reset_retries() { retries_left_ = kMismatchRetries; }
  // An answer's digest matched the live view (true: the key may be persisted) or did not.
  bool answered(bool matched) {
    dirty_ = false;
    if (matched) {
      retries_left_ = kMismatchRetries;
    } else if (retries_left_ > 0) {
      // Presence still in flight to one side; ask again once things are quiet.
      --retries_left_;
      dirty_ = true;
    }
    return matched;
  }
  bool due(TimePoint now, TimePoint last_presence_at) const {
    const bool quiet = now - last_presence_at >= quiet_ && now - last_checkpoint_at_ >= quiet_;
    return (dirty_ && quiet) || now - last_checkpoint_at_ >= interval_;
  }

 private:
  std::chrono::milliseconds quiet_;
  std::chrono::milliseconds interval_;
  bool dirty_ = false;
  int retries_left_ = kMismatchRetries;
  TimePoint last_checkpoint_at_{};
};

}  // namespace rpsync::client
