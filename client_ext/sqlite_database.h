// SPDX-License-Identifier: MIT
// SqliteDatabase: the client's state file, one SQLite database shared by the stores that
// keep their records in it (SqliteSessionStore, SqliteRosterCache, SqliteScramCache, each
// in its own tables). It opens or creates the file, creates the schema, tells a file that
// is not a database (kCorrupt) from one that cannot be opened (kIoError), and runs a
// function as one transaction. synchronous=FULL: a committed transaction survives power
// loss (rollback journal + fsync).
//
// The stores take it by reference; it must outlive them. Not thread-safe; one instance
// per file per process.
#pragma once

#include <functional>
#include <string>

#include "../protocol/status.h"

struct sqlite3;

namespace rpsync::client {

class SqliteDatabase {
 public:
  // Opens (or creates) the database at `path`. On failure the database is unusable and
  // every store operation on it returns open_status().
  explicit SqliteDatabase(std::string path);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  const Status& open_status() const { return open_status_; }
  bool is_open() const { return handle_ != nullptr; }
  const std::string& path() const { return path_; }
  // The open connection (null when opening failed).
  sqlite3* handle() const { return handle_; }
  // The connection's last error message ("no database" when it is not open).
  std::string error() const;
  // Runs `sql` (no results); false on an error.
  bool exec(const char* sql);
  // Runs `body` between BEGIN IMMEDIATE and COMMIT; when `body` returns false or COMMIT
  // fails, rolls back and returns kIoError with the database's error message.
  Status transaction(const std::function<bool()>& body);

 private:
  Status open();
  std::string path_;
  sqlite3* handle_ = nullptr;
  Status open_status_;
};

}  // namespace rpsync::client
