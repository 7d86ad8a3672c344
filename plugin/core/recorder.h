// SPDX-License-Identifier: MIT
// Where the engine's parts record their mutations (journal.h) for Engine::take_changes().
#pragma once

#include "plugin/core/journal.h"

namespace rpsync::core {

struct Recorder {
  bool on = true;       // EngineOptions::journal; off for one replicated call (NoJournal)
  bool history = true;  // EngineOptions::history: resource versions and history journaled
  Batch batch;
};

// Turns recording off for one scope (a replicated call) and back to what it was.
class NoJournal {
 public:
  explicit NoJournal(Recorder& r) : on_(r.on), saved_(r.on) { on_ = false; }
  ~NoJournal() { on_ = saved_; }
  NoJournal(const NoJournal&) = delete;
  NoJournal& operator=(const NoJournal&) = delete;

 private:
  bool& on_;
  bool saved_;
};

}  // namespace rpsync::core
