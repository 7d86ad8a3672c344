// SPDX-License-Identifier: MIT
// What the service handed to the store since the store last made everything durable, kept
// so that it can be written again after a store failure.
//
// A failed write or flush may leave the store with part of a batch, or (SQLite: a failed
// COMMIT rolls the whole transaction back) without batches whose write() had succeeded.
// The store's contract makes rewriting safe: later mutations override earlier ones for the
// same row, so writing every mutation since the last good flush again, in order, leaves
// the store exactly as if nothing had failed. Only the newest mutation per row is kept
// (a row: a resource's JID, a user's roster, a session, the epoch), so the memory is
// bounded by the number of rows touched, not by the number of changes.
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
