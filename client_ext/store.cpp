// SPDX-License-Identifier: MIT
#include "client_ext/store.h"

#include <sqlite3.h>

#include <array>
#include <optional>
#include <utility>
#include <vector>

#include "protocol/digest.h"

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

// Groups of a roster item in one column: each as decimal length ':' bytes.
std::string encode_groups(const std::vector<std::string>& groups) {
  std::string out;
  for (const auto& g : groups) out += std::to_string(g.size()) + ":" + g;
  return out;
}

std::optional<std::vector<std::string>> decode_groups(std::string_view in) {
  std::vector<std::string> out;
  while (!in.empty()) {
    const auto colon = in.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 9) return std::nullopt;
    std::size_t n = 0;
    for (char c : in.substr(0, colon)) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<std::size_t>(c - '0');
    }
    in.remove_prefix(colon + 1);
    if (n > in.size()) return std::nullopt;
    out.emplace_back(in.substr(0, n));
    in.remove_prefix(n);
  }
  return out;
}

// RAII statement with text binding helpers.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void text(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
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
  void blob(int i, std::string_view v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  bool col_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  std::int64_t col_int(int i) const { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

using AccountTables = std::array<const char*, 2>;
constexpr AccountTables kSessionDeletes{"DELETE FROM rpsync_presence WHERE account = ?1",
                                        "DELETE FROM rpsync_session WHERE account = ?1"};
constexpr AccountTables kRosterDeletes{"DELETE FROM rpsync_roster_item WHERE account = ?1",
                                       "DELETE FROM rpsync_roster WHERE account = ?1"};

// Deletes the account's rows with each statement; false on the first failure.
bool delete_account(sqlite3* db, std::string_view account, const AccountTables& deletes) {
  for (const char* sql : deletes) {
    Stmt d(db, sql);
    if (!d.ok()) return false;
    d.text(1, account);
    if (d.step() != SQLITE_DONE) return false;
  }
  return true;
}

}  // namespace

struct SqliteSessionStore::Db {
  sqlite3* handle = nullptr;
  ~Db() { sqlite3_close(handle); }
  std::string error() const { return handle ? sqlite3_errmsg(handle) : "no database"; }
  bool exec(const char* sql) {
    return sqlite3_exec(handle, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }
};

SqliteSessionStore::SqliteSessionStore(std::string path) : path_(std::move(path)) {
  open_status_ = ensure_open();
}

SqliteSessionStore::~SqliteSessionStore() = default;

Status SqliteSessionStore::ensure_open() {
  if (db_) return {};
  auto db = std::make_unique<Db>();
  if (sqlite3_open_v2(path_.c_str(), &db->handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return Status::io_error("open " + path_ + ": " + db->error());
  }
  sqlite3_busy_timeout(db->handle, 2000);
  // synchronous=FULL: a committed save survives power loss (rollback journal + fsync).
  if (!db->exec("PRAGMA synchronous=FULL;") || !db->exec(kSchema)) {
    const int code = sqlite3_errcode(db->handle);
    std::string msg = path_ + ": " + db->error();
    if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) return Status::corrupt(msg);
    return Status::io_error(msg);
  }
  db_ = std::move(db);
  return {};
}

LoadResult SqliteSessionStore::load_session(std::string_view account) {
  if (!db_) return open_status_;
  SavedSession s;
  std::uint32_t count = 0;
  std::string digest;
  {
    Stmt q(db_->handle,
           "SELECT component, stream, resource, last, expires_at, count, digest"
           " FROM rpsync_session WHERE account = ?1");
    if (!q.ok()) return Status::io_error(db_->error());
    q.text(1, account);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<SavedSession>{};
    if (rc != SQLITE_ROW) return Status::corrupt(db_->error());
    s.component = q.col_text(0);
    s.key = {q.col_text(1), q.col_text(2), q.col_text(3)};
    s.expires_at = q.col_int(4);
    const std::int64_t c = q.col_int(5);
    if (c < 0 || c > 0xffffffffLL) return Status::corrupt("bad count");
    count = static_cast<std::uint32_t>(c);
    digest = q.col_text(6);
  }
  {
    Stmt q(db_->handle,
           "SELECT jid, show, status, priority, caps_hash, caps_node, caps_ver, photo, idle"
           " FROM rpsync_presence WHERE account = ?1");
    if (!q.ok()) return Status::io_error(db_->error());
    q.text(1, account);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      proto::PresenceFields f;
      const std::int64_t show = q.col_int(1);
      const std::int64_t prio = q.col_int(3);
      if (show < 0 || show > 4 || prio < -128 || prio > 127) {
        return Status::corrupt("bad presence row");
      }
      f.show = static_cast<proto::Show>(show);
      f.status = q.col_text(2);
      f.priority = static_cast<std::int8_t>(prio);
      if (!q.col_null(4)) f.caps = proto::Caps{q.col_text(4), q.col_text(5), q.col_text(6)};
      f.photo = q.col_text(7);
      f.idle_since = q.col_text(8);
      s.state.insert_or_assign(q.col_text(0), std::move(f));
    }
    if (rc != SQLITE_DONE) return Status::corrupt(db_->error());
  }
  const auto expected = proto::StateDigest::from_hex(digest, count);
  if (!expected || !(proto::digest_of(s.state) == *expected)) {
    return Status::corrupt("stored presence state does not match its digest");
  }
  return std::optional<SavedSession>{std::move(s)};
}

Status SqliteSessionStore::save_session(std::string_view account, const SavedSession& s) {
  if (!db_) return open_status_;
  if (!db_->exec("BEGIN IMMEDIATE;")) return Status::io_error(db_->error());
  auto fail = [&]() {
    Status st = Status::io_error(db_->error());
    db_->exec("ROLLBACK;");
    return st;
  };
  if (!delete_account(db_->handle, account, kSessionDeletes)) return fail();
  {
    const proto::StateDigest digest = proto::digest_of(s.state);
    Stmt ins(db_->handle,
             "INSERT INTO rpsync_session(account, component, stream, resource, last,"
             " expires_at, count, digest) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!ins.ok()) return fail();
    ins.text(1, account);
    ins.text(2, s.component);
    ins.text(3, s.key.stream);
    ins.text(4, s.key.resource);
    ins.text(5, s.key.last);
    ins.integer(6, s.expires_at);
    ins.integer(7, digest.count());
    ins.text(8, digest.hex());
    if (ins.step() != SQLITE_DONE) return fail();
  }
  Stmt ins(db_->handle,
           "INSERT INTO rpsync_presence(account, jid, show, status, priority, caps_hash,"
           " caps_node, caps_ver, photo, idle) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!ins.ok()) return fail();
  for (const auto& [jid, f] : s.state) {
    ins.reset();
    ins.text(1, account);
    ins.text(2, jid);
    ins.integer(3, static_cast<std::int64_t>(f.show));
    ins.text(4, f.status);
    ins.integer(5, f.priority);
    if (f.caps) {
      ins.text(6, f.caps->hash);
      ins.text(7, f.caps->node);
      ins.text(8, f.caps->ver);
    } else {
      ins.null(6);
      ins.null(7);
      ins.null(8);
    }
    ins.text(9, f.photo);
    ins.text(10, f.idle_since);
    if (ins.step() != SQLITE_DONE) return fail();
  }
  if (!db_->exec("COMMIT;")) return fail();
  return {};
}

Status SqliteSessionStore::erase_session(std::string_view account) {
  if (!db_) return open_status_;
  if (!db_->exec("BEGIN IMMEDIATE;")) return Status::io_error(db_->error());
  if (delete_account(db_->handle, account, kSessionDeletes) && db_->exec("COMMIT;")) return {};
  Status st = Status::io_error(db_->error());
  db_->exec("ROLLBACK;");
  return st;
}

// ---- RosterCache ----

RosterLoadResult SqliteSessionStore::load_roster(std::string_view account) {
  if (!db_) return open_status_;
  CachedRoster r;
  std::int64_t count = 0;
  std::string checksum;
  {
    Stmt q(db_->handle, "SELECT ver, count, checksum FROM rpsync_roster WHERE account = ?1");
    if (!q.ok()) return Status::io_error(db_->error());
    q.text(1, account);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<CachedRoster>{};
    if (rc != SQLITE_ROW) return Status::corrupt(db_->error());
    r.ver = q.col_text(0);
    count = q.col_int(1);
    checksum = q.col_text(2);
  }
  {
    Stmt q(db_->handle,
           "SELECT jid, name, subscription, ask, groups FROM rpsync_roster_item"
           " WHERE account = ?1 ORDER BY jid");
    if (!q.ok()) return Status::io_error(db_->error());
    q.text(1, account);
    int rc = SQLITE_ROW;
    while ((rc = q.step()) == SQLITE_ROW) {
      auto groups = decode_groups(q.col_blob(4));
      if (!groups) return Status::corrupt("bad roster item groups");
      r.items.push_back(
          {q.col_text(0), q.col_text(1), q.col_text(2), q.col_text(3), std::move(*groups)});
    }
    if (rc != SQLITE_DONE) return Status::corrupt(db_->error());
  }
  // SQLite's ORDER BY compares TEXT with memcmp, the same order as std::string's <.
  if (count != static_cast<std::int64_t>(r.items.size())) {
    return Status::corrupt("cached roster: item count does not match");
  }
  if (roster_checksum(r) != checksum) {
    return Status::corrupt("cached roster: checksum does not match");
  }
  return std::optional<CachedRoster>{std::move(r)};
}

Status SqliteSessionStore::save_roster(std::string_view account, const CachedRoster& r) {
  if (!db_) return open_status_;
  if (!db_->exec("BEGIN IMMEDIATE;")) return Status::io_error(db_->error());
  auto fail = [&]() {
    Status st = Status::io_error(db_->error());
    db_->exec("ROLLBACK;");
    return st;
  };
  if (!delete_account(db_->handle, account, kRosterDeletes)) return fail();
  {
    Stmt ins(db_->handle,
             "INSERT INTO rpsync_roster(account, ver, count, checksum) VALUES(?1, ?2, ?3, ?4)");
    if (!ins.ok()) return fail();
    ins.text(1, account);
    ins.text(2, r.ver);
    ins.integer(3, static_cast<std::int64_t>(r.items.size()));
    ins.text(4, roster_checksum(r));
    if (ins.step() != SQLITE_DONE) return fail();
  }
  Stmt ins(db_->handle,
           "INSERT INTO rpsync_roster_item(account, jid, name, subscription, ask, groups)"
           " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins.ok()) return fail();
  for (const auto& item : r.items) {
    ins.reset();
    ins.text(1, account);
    ins.text(2, item.jid);
    ins.text(3, item.name);
    ins.text(4, item.subscription);
    ins.text(5, item.ask);
    ins.blob(6, encode_groups(item.groups));
    if (ins.step() != SQLITE_DONE) return fail();
  }
  if (!db_->exec("COMMIT;")) return fail();
  return {};
}

Status SqliteSessionStore::erase_roster(std::string_view account) {
  if (!db_) return open_status_;
  if (!db_->exec("BEGIN IMMEDIATE;")) return Status::io_error(db_->error());
  if (delete_account(db_->handle, account, kRosterDeletes) && db_->exec("COMMIT;")) return {};
  Status st = Status::io_error(db_->error());
  db_->exec("ROLLBACK;");
  return st;
}

// ---- ScramCache ----

std::optional<std::string> SqliteSessionStore::load_salted_password(const std::string& account,
                                                                    const std::string& salt,
                                                                    std::uint32_t iterations) {
  if (!db_) return std::nullopt;
  Stmt q(db_->handle, "SELECT salt, iterations, salted FROM rpsync_scram WHERE account = ?1");
  if (!q.ok()) return std::nullopt;
  q.text(1, account);
  if (q.step() != SQLITE_ROW) return std::nullopt;
  std::string salted = q.col_blob(2);
  // A SHA-1 SaltedPassword is 20 bytes; anything else is not ours to send.
  if (q.col_blob(0) != salt || q.col_int(1) != static_cast<std::int64_t>(iterations) ||
      salted.size() != 20) {
    return std::nullopt;
  }
  return salted;
}

void SqliteSessionStore::save_salted_password(const std::string& account, const std::string& salt,
                                              std::uint32_t iterations,
                                              const std::string& salted_password) {
  if (!db_) return;
  Stmt q(db_->handle,
         "INSERT OR REPLACE INTO rpsync_scram(account, salt, iterations, salted)"
         " VALUES(?1, ?2, ?3, ?4)");
  if (!q.ok()) return;
  q.text(1, account);
  q.blob(2, salt);
  q.integer(3, iterations);
  q.blob(4, salted_password);
  q.step();  // a failed save only costs the next login a derivation
}

void SqliteSessionStore::erase_salted_password(const std::string& account) {
  if (!db_) return;
  Stmt q(db_->handle, "DELETE FROM rpsync_scram WHERE account = ?1");
  if (!q.ok()) return;
  q.text(1, account);
  q.step();
}

}  // namespace rpsync::client
