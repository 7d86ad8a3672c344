// SPDX-License-Identifier: MIT
#include "plugin/service/roster_cache.h"

namespace rpsync::service {

std::optional<RosterCache::Entry> RosterCache::find(std::string_view user) {
  auto it = index_.find(user);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->entry;
}

bool RosterCache::put(const std::string& user, Entry entry) {
  erase(user);
  const std::size_t c = cost(entry);
  if (c > budget_) return false;
  while (used_ + c > budget_ && !lru_.empty()) drop(std::prev(lru_.end()));
  lru_.push_front({user, std::move(entry)});
  index_.emplace(user, lru_.begin());
  used_ += c;
  return true;
}

void RosterCache::erase(std::string_view user) {
  auto it = index_.find(user);
  if (it != index_.end()) drop(it->second);
}

void RosterCache::clear() {
  lru_.clear();
  index_.clear();
  used_ = 0;
}

void RosterCache::drop(List::iterator it) {
  used_ -= cost(it->entry);
  index_.erase(it->user);
  lru_.erase(it);
}

}  // namespace rpsync::service
