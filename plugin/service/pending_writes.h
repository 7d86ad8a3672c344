// SPDX-License-Identifier: MIT
// What the service handed to the store since the store last made everything durable, kept
// so that it can be written again after a store failure.
//
// A failed write or flush may leave the store with part of a batch, or (SQLite: a failed
// COMMIT rolls the whole transaction back) without batches whose write() had succeeded.
// The store's contract makes rewriting safe: later mutations override earlier ones for the
// same row, so writing them again, in order, leaves those rows as if nothing had failed.
// Kept: sessions, rosters and the epoch (what an acknowledged answer and a restart depend
// on), only the newest mutation per row, so the memory is bounded by the rows touched.
// Not kept: contact presence (resource rows). A restart re-learns presence from the server
// anyway, and in a shared store a late rewrite of a resource row (published again on the
// change feed) could undo a newer change another instance made.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "plugin/core/journal.h"

namespace rpsync::service {

class PendingWrites {
 public:
  void add(const core::Batch& batch);
  // Every kept mutation, oldest first (per row: the newest).
  core::Batch all() const;
  void clear();
  std::size_t size() const { return live_; }

 private:
  std::vector<std::optional<core::Mutation>> items_;
  std::unordered_map<std::string, std::size_t> index_;  // row -> position in items_
  std::size_t live_ = 0;
};

}  // namespace rpsync::service
