// SPDX-License-Identifier: MIT
#include "client_ext/sqlite_database.h"

#include <sqlite3.h>

#include <utility>

namespace rpsync::client {

namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS rpsync_session("
    " account TEXT PRIMARY KEY, component TEXT NOT NULL, stream TEXT NOT NULL,"
    " resource TEXT NOT NULL, last TEXT NOT NULL, expires_at INTEGER NOT NULL,"
    " count INTEGER NOT NULL, digest TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rpsync_presence("
    " account TEXT NOT NULL, jid TEXT NOT NULL, show INTEGER NOT NULL, status TEXT NOT NULL,"
    " priority INTEGER NOT NULL, caps_hash TEXT, caps_node TEXT, caps_ver TEXT,"
    " photo TEXT NOT NULL, idle TEXT NOT NULL, PRIMARY KEY(account, jid));"
    "CREATE TABLE IF NOT EXISTS rpsync_roster("
    " account TEXT PRIMARY KEY, ver TEXT NOT NULL, count INTEGER NOT NULL,"
    " checksum TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS rpsync_roster_item("
    " account TEXT NOT NULL, jid TEXT NOT NULL, name TEXT NOT NULL,"
    " subscription TEXT NOT NULL, ask TEXT NOT NULL, groups BLOB NOT NULL,"
    " PRIMARY KEY(account, jid));"
    "CREATE TABLE IF NOT EXISTS rpsync_scram("
    " account TEXT PRIMARY KEY, salt BLOB NOT NULL, iterations INTEGER NOT NULL,"
    " salted BLOB NOT NULL);";

}  // namespace

SqliteDatabase::SqliteDatabase(std::string path) : path_(std::move(path)) {
  open_status_ = open();
}

SqliteDatabase::~SqliteDatabase() {
  sqlite3_close(handle_);
}

std::string SqliteDatabase::error() const {
  return handle_ != nullptr ? sqlite3_errmsg(handle_) : "no database";
}

bool SqliteDatabase::exec(const char* sql) {
  return sqlite3_exec(handle_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

Status SqliteDatabase::open() {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  handle_ = db;  // sqlite3_open_v2 may hand out a handle even on failure: closed with us
  if (rc != SQLITE_OK) {
    Status st = Status::io_error("open " + path_ + ": " + error());
    sqlite3_close(handle_);
    handle_ = nullptr;
    return st;
  }
  sqlite3_busy_timeout(handle_, 2000);
  if (!exec("PRAGMA synchronous=FULL;") || !exec(kSchema)) {
    const int code = sqlite3_errcode(handle_);
    std::string msg = path_ + ": " + error();
    sqlite3_close(handle_);
    handle_ = nullptr;
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) return Status::corrupt(std::move(msg));
    return Status::io_error(std::move(msg));
  }
  return {};
}

Status SqliteDatabase::transaction(const std::function<bool()>& body) {
  if (handle_ == nullptr) return open_status_;
  if (!exec("BEGIN IMMEDIATE;")) return Status::io_error(error());
  if (body() && exec("COMMIT;")) return {};
  Status st = Status::io_error(error());
  exec("ROLLBACK;");
  return st;
}

}  // namespace rpsync::client
