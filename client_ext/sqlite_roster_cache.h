// SPDX-License-Identifier: MIT
// SqliteRosterCache: the persistent RosterCache (roster_cache.h) in a SqliteDatabase
// (tables rpsync_roster and rpsync_roster_item), independent of the session record of
// the same account. Each save is one transaction; the header row holds the item count
// and roster_checksum(), and load() reports kCorrupt when the rows do not match them.
#pragma once

#include <string_view>

#include "roster_cache.h"
#include "sqlite_database.h"

namespace rpsync::client {

class SqliteRosterCache final : public RosterCache {
 public:
  // `db` must outlive the cache.
  explicit SqliteRosterCache(SqliteDatabase& db) : db_(db) {}

  RosterLoadResult load(std::string_view account) override;
  Status save(std::string_view account, const CachedRoster& roster) override;
  Status erase(std::string_view account) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace rpsync::client
