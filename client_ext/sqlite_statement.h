// SPDX-License-Identifier: MIT
// SqliteStatement: a prepared statement with binding and column helpers, for the SQLite
// stores' .cpp files (not installed: it includes sqlite3.h).
#pragma once

#include <sqlite3.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace rpsync::client {

class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, const char* sql) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  ~SqliteStatement() { sqlite3_finalize(s_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void null(int i) { sqlite3_bind_null(s_, i); }
  void integer(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string col_text(int i) const {
    const unsigned char* t = sqlite3_column_text(s_, i);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  }
  std::string col_blob(int i) const {
    const void* b = sqlite3_column_blob(s_, i);
    const int n = sqlite3_column_bytes(s_, i);
    return b == nullptr ? std::string()
                        : std::string(static_cast<const char*>(b), static_cast<std::size_t>(n));
  }
  bool col_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::int64_t col_int(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

// Statements that delete one account's rows from a record's tables, children first.
using AccountDeletes = std::array<const char*, 2>;

// Runs each statement for `account`; false on the first failure.
inline bool delete_account(sqlite3* db, std::string_view account, const AccountDeletes& deletes) {
  for (const char* sql : deletes) {
    SqliteStatement d(db, sql);
    if (!d.ok()) return false;
    d.text(1, account);
    if (d.step() != SQLITE_DONE) return false;
  }
  return true;
}

}  // namespace rpsync::client
