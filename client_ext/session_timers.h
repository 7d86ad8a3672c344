// SPDX-License-Identifier: MIT
// The phases of one login and what is due when time passes, shared by both client
// bindings (RpsyncManager::tick, client_strophe's Session::tick): pure, no clock of its own.
#pragma once

#include <chrono>
#include <cstdint>

#include "checkpoint_schedule.h"

namespace rpsync::client {

enum class SessionPhase : std::uint8_t {
  kOffline,
  kSyncing,     // sync sent, initial presence held
  kSettling,    // full login: waiting for the flood to settle (or for discovery)
  kEnabling,    // enable sent
  kOnline,      // component holds a key for this session
  kPlain,       // no component (or it failed): plain client for this session
  kLoggingOut,  // final checkpoint sent, disconnect follows
};

enum class TimerAction : std::uint8_t {
  kNone,
  kRequestTimeout,  // the request in flight went unanswered for request_timeout
  kEnable,          // the flood settled: send <enable/>
  kCheckpoint,      // the schedule says a checkpoint is due
  kDisconnect,      // logging out and the final checkpoint's answer is overdue
};

// What a binding knows about its login when its timer fires.
struct TimerState {
  using TimePoint = std::chrono::steady_clock::time_point;
  SessionPhase phase = SessionPhase::kOffline;
  bool request_pending = false;
  TimePoint request_sent_at{};
  bool may_enable = false;  // a component is known (and the initial presence is out)
  TimePoint not_before{};   // no enable before (after a 'wait' error)
  TimePoint last_presence_at{};
  TimePoint presence_sent_at{};
  TimePoint logout_deadline{};
};

struct TimerSettings {
  std::chrono::milliseconds settle_quiet;
  std::chrono::milliseconds settle_max;
  std::chrono::milliseconds request_timeout;
};

TimerAction due_action(const TimerState& s, const TimerSettings& settings,
                       const CheckpointSchedule& checkpoints, TimerState::TimePoint now);

}  // namespace rpsync::client
