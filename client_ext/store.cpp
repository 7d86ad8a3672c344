// SPDX-License-Identifier: MIT
#include "client_ext/store.h"

namespace rpsync::client {

LoadResult MemorySessionStore::load(std::string_view account) {
  auto it = sessions_.find(account);
  if (it == sessions_.end()) return std::optional<SavedSession>{};
  return std::optional<SavedSession>{it->second};
}

Status MemorySessionStore::save(std::string_view account, const SavedSession& session) {
  sessions_.insert_or_assign(std::string(account), session);
  return {};
}

Status MemorySessionStore::erase(std::string_view account) {
  if (auto it = sessions_.find(account); it != sessions_.end()) sessions_.erase(it);
  return {};
}

}  // namespace rpsync::client
