// SPDX-License-Identifier: MIT
// SqliteSessionStore: the crash-safe SessionStore (store.h) in a SqliteDatabase (tables
// rpsync_session and rpsync_presence). Each save is one transaction; a record whose
// stored count/digest does not match its presence rows is reported as kCorrupt, and so
// is a database file that is not a database (SqliteDatabase::open_status()).
#pragma once

#include <string_view>

#include "sqlite_database.h"
#include "store.h"

namespace rpsync::client {

class SqliteSessionStore final : public SessionStore {
 public:
  // `db` must outlive the store.
  explicit SqliteSessionStore(SqliteDatabase& db) : db_(db) {}

  LoadResult load(std::string_view account) override;
  Status save(std::string_view account, const SavedSession& session) override;
  Status erase(std::string_view account) override;

 private:
  SqliteDatabase& db_;
};

}  // namespace rpsync::client
