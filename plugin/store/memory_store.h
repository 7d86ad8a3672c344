// SPDX-License-Identifier: MIT
// In-memory Store: for unit tests and for running without persistence.
// MemoryData outlives a MemoryStore so a test can "restart" by opening a new store over the
// same data; only flushed mutations reach it (a crash loses what was never flushed).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "plugin/store/store.h"

namespace rpsync::store {

struct MemoryData {
  std::uint64_t epoch = 0;
  // Available resources (with their history when journaled) and tombstones.
  std::map<std::string, core::ResourceRecord> resources;
  std::map<std::string, core::TombstoneRecord> tombstones;
  std::map<std::string, std::vector<std::string>> rosters;
  std::map<std::tuple<std::string, std::string, std::string>, core::SessionRecord> sessions;
};

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::shared_ptr<MemoryData> data = std::make_shared<MemoryData>());
  StatusOr<core::Image> load() override;
  Done write(const core::Batch& batch) override;
  Done flush() override;

 private:
  std::shared_ptr<MemoryData> data_;
  core::Batch pending_;
};

}  // namespace rpsync::store
