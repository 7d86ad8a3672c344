// SPDX-License-Identifier: MIT
#include "client_ext/session_timers.h"

namespace rpsync::client {

TimerAction due_action(const TimerState& s, const TimerSettings& settings,
                       const CheckpointSchedule& checkpoints, TimerState::TimePoint now) {
  if (s.request_pending) {
    return now - s.request_sent_at >= settings.request_timeout ? TimerAction::kRequestTimeout
                                                               : TimerAction::kNone;
  }
  switch (s.phase) {
    case SessionPhase::kSettling: {
      if (!s.may_enable || now < s.not_before) return TimerAction::kNone;
      const bool quiet = now - s.last_presence_at >= settings.settle_quiet;
      const bool waited = now - s.presence_sent_at >= settings.settle_max;
      return quiet || waited ? TimerAction::kEnable : TimerAction::kNone;
    }
    case SessionPhase::kOnline:
      return checkpoints.due(now, s.last_presence_at) ? TimerAction::kCheckpoint
                                                      : TimerAction::kNone;
    case SessionPhase::kLoggingOut:
      return now >= s.logout_deadline ? TimerAction::kDisconnect : TimerAction::kNone;
    default:
      return TimerAction::kNone;
  }
}

}  // namespace rpsync::client
