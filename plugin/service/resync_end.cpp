// SPDX-License-Identifier: MIT
// The end of a re-learn (OnConnect::kResync) in slices: taking a million unconfirmed
// resources offline in one call stops the loop for seconds (no ping, presence or request
// is read meanwhile). Once the re-learn has settled, the witness rows (if any) are adopted
// in one pass, then each slice takes at most resync_slice resources offline
// (Engine::end_resync_step()), hands what it journaled to the store and posts the next
// one behind what the loop has queued.
// Requests keep getting not-ready until the last slice; presence arriving between slices
// is ingested and confirms what it names. A disconnect cancels the remaining slices.
#include <algorithm>
#include <chrono>
#include <memory>

#include "plugin/service/service.h"

namespace rpsync::service {

void Service::start_resync_end(std::int64_t now) {
  ending_.emplace();
  ending_->settled_ms = now;
  ending_->started = std::chrono::steady_clock::now();
  auto rows = witness_ ? witness_() : std::nullopt;
  if (rows) {
    ending_->end = engine_.adopt_resync_rows(*rows);
    ending_->witnessed = true;
  }
  resync_slice();
}

void Service::resync_slice() {
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t before = ending_->end.gone;
  const bool done =
      engine_.end_resync_step(std::max<std::size_t>(config_.resync_slice, 1), ending_->end.gone);
  // What a slice journaled goes to the store now: left to grow until the tick (some
  // 100,000 erasures), the journal's reallocations alone hold the loop for tens of ms.
  if (ending_->end.gone > before) {
    ++unwritten_;
    if (!storage_.full()) persist(false);
  }
  // The loop turn: the step and the hand-over (inline, the store's write).
  const std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - t0;
  ++ending_->slices;
  ending_->slice_max_ms = std::max(ending_->slice_max_ms, took.count());
  if (done)
    finish_resync();
  else if (post_)
    post_resync_slice();
}

void Service::post_resync_slice() {
  post_([this, run = resync_run_, alive = std::weak_ptr<bool>(life_)] {
    if (alive.expired()) return;  // the service is gone
    if (ending_ && run == resync_run_) resync_slice();
  });
}

void Service::finish_resync() {
  const ResyncEnding e = *ending_;
  ending_.reset();
  resyncing_ = false;
  const std::chrono::duration<double, std::milli> end_ms =
      std::chrono::steady_clock::now() - e.started;
  const auto ms = e.settled_ms - resync_start_ms_;
  const auto whole = static_cast<std::int64_t>(end_ms.count());
  const auto slice_max = static_cast<std::int64_t>(e.slice_max_ms);
  if (e.witnessed)
    log_.info("service", "resync.done",
              {{"gone", e.end.gone},
               {"from_rows", e.end.adopted},
               {"rows_agree", e.end.kept},
               {"ms", ms},
               {"slices", e.slices},
               {"end_ms", whole},
               {"slice_max_ms", slice_max}});
  else
    log_.info("service", "resync.done",
              {{"gone", e.end.gone},
               {"ms", ms},
               {"slices", e.slices},
               {"end_ms", whole},
               {"slice_max_ms", slice_max}});
  if (gap_pending_) close_gap();
  ++unwritten_;
}

}  // namespace rpsync::service
