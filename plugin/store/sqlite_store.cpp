// SPDX-License-Identifier: MIT
#include "plugin/store/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "plugin/store/codec.h"

namespace rpsync::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resources(jid TEXT PRIMARY KEY, f BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS presence_log(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL,
  records BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS rosters(user TEXT PRIMARY KEY, contacts BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions(user TEXT NOT NULL, stream TEXT NOT NULL,
  resource TEXT NOT NULL, txns BLOB NOT NULL, PRIMARY KEY(user, stream, resource)) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(k, v) VALUES('schema', 1);
)sql";

// A failed SQLite operation, and a stored row that cannot be decoded.
Status io_failure(std::string text) {
  return Status::io_error("store: " + std::move(text));
}
Status corrupt_row(std::string text) {
  return Status::corrupt("store: " + std::move(text));
}

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
std::string_view column(sqlite3_stmt* s, int i) {
  const void* p = sqlite3_column_blob(s, i);
  int n = sqlite3_column_bytes(s, i);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n))
           : std::string_view();
}
bool step_done(sqlite3_stmt* st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE;
}

}  // namespace

struct SqliteStore::Stmts {
  Stmt log_res, put_res, del_res, put_roster, del_roster, put_session, del_session, put_epoch;
};

StatusOr<std::unique_ptr<Store>> SqliteStore::open(const std::string& path,
                                                   const StoreOptions& options) {
  // A new database is created 0600 whatever the umask: it holds who talks to whom. SQLite
  // gives its -wal, -shm and -journal files the database file's permissions.
  if (int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600); fd >= 0)
    ::close(fd);
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return io_failure("cannot open " + path + ": " + msg);
  }
  std::unique_ptr<SqliteStore> s(new SqliteStore(db, options));
  sqlite3_busy_timeout(db, 5000);
  const std::string pragmas = std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=") +
                              (options.synchronous_full ? "FULL;" : "NORMAL;") +
                              " PRAGMA temp_store=MEMORY; PRAGMA cache_size=-" +
                              std::to_string(options.cache_kib) + ";";
  if (auto r = s->exec(pragmas.c_str()); !r.ok()) return r;
  if (auto r = s->exec(kSchema); !r.ok()) return r;
  struct {
    Stmt* stmt;
    const char* sql;
  } prepared[] = {
      {&s->stmts_->log_res, "INSERT INTO presence_log(n, records) VALUES(?1, ?2)"},
      {&s->stmts_->put_res,
       "INSERT INTO resources(jid, f) VALUES(?1, ?2) ON CONFLICT(jid) DO UPDATE SET f = "
       "excluded.f"},
      {&s->stmts_->del_res, "DELETE FROM resources WHERE jid = ?1"},
      {&s->stmts_->put_roster, "INSERT OR REPLACE INTO rosters(user, contacts) VALUES(?1, ?2)"},
      {&s->stmts_->del_roster, "DELETE FROM rosters WHERE user = ?1"},
      {&s->stmts_->put_session,
       "INSERT OR REPLACE INTO sessions(user, stream, resource, txns) VALUES(?1, ?2, ?3, ?4)"},
      {&s->stmts_->del_session,
       "DELETE FROM sessions WHERE user = ?1 AND stream = ?2 AND resource = ?3"},
      {&s->stmts_->put_epoch, "INSERT OR REPLACE INTO meta(k, v) VALUES('epoch', ?1)"},
  };
  for (auto& p : prepared)
    if (sqlite3_prepare_v3(db, p.sql, -1, SQLITE_PREPARE_PERSISTENT, &p.stmt->s, nullptr) !=
        SQLITE_OK)
      return s->fail("prepare");
  s->base_rows_ = s->count_rows("resources");
  s->log_rows_ = s->count_rows("presence_log", "coalesce(sum(n), 0)");
  return std::unique_ptr<Store>(std::move(s));
}

SqliteStore::SqliteStore(sqlite3* db, const StoreOptions& options)
    : db_(db), options_(options), stmts_(std::make_unique<Stmts>()) {}

SqliteStore::~SqliteStore() {
  (void)flush();
  stmts_.reset();  // statements must be finalised before the connection closes
  sqlite3_close(db_);
}

Done SqliteStore::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return io_failure(msg);
  }
  return Status{};
}

Done SqliteStore::fail(const char* what) {
  return io_failure(std::string(what) + ": " + sqlite3_errmsg(db_));
}

std::uint64_t SqliteStore::count_rows(const char* table, const char* what) {
  std::string sql = std::string("SELECT ") + what + " FROM " + table;
  Stmt q;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return 0;
  return sqlite3_step(q.s) == SQLITE_ROW ? static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0))
                                         : 0;
}

Done SqliteStore::commit() {
  if (!in_tx_) return Status{};
  auto r = exec("COMMIT");
  if (!r.ok()) (void)exec("ROLLBACK");
  in_tx_ = false;
  pending_ = 0;
  if (r.ok() && log_rows_ > std::max(3 * base_rows_, options_.compact_min_log)) return compact();
  return r;
}

// One fold, timed and reported to options.on_fold (whether it succeeded or not).
Done SqliteStore::compact() {
  const auto t0 = std::chrono::steady_clock::now();
  FoldReport report;
  Done r = fold(report);
  report.ok = r.ok();
  report.base_rows = base_rows_;
  report.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (options_.on_fold) options_.on_fold(report);
  return r;
}

// Folds the presence log into the base table in one transaction: the log is scanned
// newest first in rowid order (no sort of the log), the first row seen per jid wins, and
// only those survivors are sorted and applied in key order. Transient memory: one copy of
// each distinct jid and its newest blob.
Done SqliteStore::fold(FoldReport& report) {
  // Survivors live in a deque (stable addresses); `seen` holds views of their jids.
  std::deque<std::pair<std::string, std::optional<std::string>>> newest;
  std::unordered_set<std::string_view> seen;
  seen.reserve(static_cast<std::size_t>(base_rows_ + base_rows_ / 4 + 1024));
  {
    Stmt q;
    if (sqlite3_prepare_v2(db_, "SELECT records FROM presence_log ORDER BY seq DESC", -1, &q.s,
                           nullptr) != SQLITE_OK)
      return fail("compact");
    std::vector<LogRecord> records;
    int rc;
    while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
      if (!decode_log(column(q.s, 0), records)) return corrupt_row("corrupt presence log row");
      report.log_records += records.size();
      for (auto it = records.rbegin(); it != records.rend(); ++it) {
        if (seen.count(it->jid)) continue;
        std::optional<std::string> f;
        if (it->fields) f = std::string(*it->fields);
        newest.emplace_back(std::string(it->jid), std::move(f));
        seen.insert(newest.back().first);
      }
    }
    if (rc != SQLITE_DONE) return fail("compact");
  }
  seen = {};
  std::vector<const std::pair<std::string, std::optional<std::string>>*> order;
  order.reserve(newest.size());
  for (const auto& e : newest) order.push_back(&e);
  report.rows = order.size();
  std::sort(order.begin(), order.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  if (auto r = exec("BEGIN"); !r.ok()) return r;
  for (const auto* e : order) {
    const auto& [jid, f] = *e;
    sqlite3_stmt* st = f ? stmts_->put_res.s : stmts_->del_res.s;
    bind_text(st, 1, jid);
    if (f) bind_blob(st, 2, *f);
    if (!step_done(st)) {
      Done r = fail("compact");
      (void)exec("ROLLBACK");
      return r;
    }
  }
  if (auto r = exec("DELETE FROM presence_log"); !r.ok()) {
    (void)exec("ROLLBACK");
    return r;
  }
  if (auto r = exec("COMMIT"); !r.ok()) {
    (void)exec("ROLLBACK");
    return r;
  }
  log_rows_ = 0;
  base_rows_ = count_rows("resources");
  return Status{};
}

StatusOr<core::Image> SqliteStore::load() {
  if (auto r = commit(); !r.ok()) return r;
  core::Image img;
  Stmt q;
  auto prepare = [&](const char* sql) {
    sqlite3_finalize(q.s);
    q.s = nullptr;
    return sqlite3_prepare_v2(db_, sql, -1, &q.s, nullptr) == SQLITE_OK;
  };
  if (!prepare("SELECT v FROM meta WHERE k = 'epoch'")) return fail("load");
  if (sqlite3_step(q.s) == SQLITE_ROW)
    img.epoch = static_cast<std::uint64_t>(sqlite3_column_int64(q.s, 0));

  // Base, then the log on top (later rows win; NULL erases).
  std::map<std::string, std::string, std::less<>> blobs;
  if (!prepare("SELECT jid, f FROM resources")) return fail("load");
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    blobs.emplace(std::string(column(q.s, 0)), std::string(column(q.s, 1)));
  if (rc != SQLITE_DONE) return fail("load resources");
  if (!prepare("SELECT records FROM presence_log ORDER BY seq")) return fail("load");
  std::vector<LogRecord> records;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    if (!decode_log(column(q.s, 0), records)) return corrupt_row("corrupt presence log row");
    for (const auto& rec : records) {
      if (rec.fields)
        blobs.insert_or_assign(std::string(rec.jid), std::string(*rec.fields));
      else if (auto it = blobs.find(rec.jid); it != blobs.end())
        blobs.erase(it);
    }
  }
  if (rc != SQLITE_DONE) return fail("load presence log");
  img.resources.reserve(blobs.size());
  for (auto& [jid, blob] : blobs) {
    auto row = decode_resource(blob);
    if (!row) return corrupt_row("corrupt resource row " + jid);
    add_to_image(img, jid, std::move(*row));
  }

  if (!prepare("SELECT user, contacts FROM rosters")) return fail("load");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    auto c = decode_contacts(column(q.s, 1));
    if (!c) return corrupt_row("corrupt roster row " + std::string(column(q.s, 0)));
    img.rosters.push_back({std::string(column(q.s, 0)), std::move(*c)});
  }
  if (rc != SQLITE_DONE) return fail("load rosters");

  if (!prepare("SELECT user, stream, resource, txns FROM sessions")) return fail("load");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    core::SessionRecord s;
    s.user = std::string(column(q.s, 0));
    s.stream = std::string(column(q.s, 1));
    s.resource = std::string(column(q.s, 2));
    if (!decode_txns(column(q.s, 3), s.newest, s.previous))
      return corrupt_row("corrupt session row of " + s.user);
    img.sessions.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return fail("load sessions");
  return img;
}

// Binds the statement that applies one mutation (nullptr for presence: appended to `log`
// instead, one log row per write()); `blob` keeps an encoded value alive until the step.
sqlite3_stmt* SqliteStore::bind_mutation(const core::Mutation& m, std::string& blob,
                                         std::string& log, std::uint64_t& log_records) {
  return std::visit(
      [&](const auto& x) -> sqlite3_stmt* {
        using T = std::decay_t<decltype(x)>;
        sqlite3_stmt* s = nullptr;
        if constexpr (std::is_same_v<T, core::PutResource>) {
          append_log_record(log, x.jid, resource_blob(x));
          ++log_records;
        } else if constexpr (std::is_same_v<T, core::EraseResource>) {
          append_log_record(log, x.jid, resource_blob(x));
          ++log_records;
        } else if constexpr (std::is_same_v<T, core::PutRoster>) {
          if (x.contacts.empty()) {
            s = stmts_->del_roster.s;
            bind_text(s, 1, x.user);
          } else {
            s = stmts_->put_roster.s;
            blob = encode_contacts(x.contacts);
            bind_text(s, 1, x.user);
            bind_blob(s, 2, blob);
          }
        } else if constexpr (std::is_same_v<T, core::PutSession>) {
          s = stmts_->put_session.s;
          blob = encode_txns(x.session.newest, x.session.previous);
          bind_text(s, 1, x.session.user);
          bind_text(s, 2, x.session.stream);
          bind_text(s, 3, x.session.resource);
          bind_blob(s, 4, blob);
        } else if constexpr (std::is_same_v<T, core::EraseSession>) {
          s = stmts_->del_session.s;
          bind_text(s, 1, x.user);
          bind_text(s, 2, x.stream);
          bind_text(s, 3, x.resource);
        } else {
          s = stmts_->put_epoch.s;
          sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(x.epoch));
        }
        return s;
      },
      m);
}

Done SqliteStore::write(const core::Batch& batch) {
  if (batch.empty()) return Status{};
  if (!in_tx_) {
    if (auto r = exec("BEGIN"); !r.ok()) return r;
    in_tx_ = true;
    tx_start_ = std::chrono::steady_clock::now();
  }
  std::string blob;
  std::string log;  // this batch's presence mutations: one log row
  std::uint64_t log_records = 0;
  for (const auto& m : batch) {
    sqlite3_stmt* st = bind_mutation(m, blob, log, log_records);
    if (st && !step_done(st)) return fail("write");
  }
  if (log_records > 0) {
    sqlite3_bind_int64(stmts_->log_res.s, 1, static_cast<sqlite3_int64>(log_records));
    bind_blob(stmts_->log_res.s, 2, log);
    if (!step_done(stmts_->log_res.s)) return fail("write presence log");
    log_rows_ += log_records;
  }
  pending_ += batch.size();
  if (pending_ >= options_.batch_records ||
      std::chrono::steady_clock::now() - tx_start_ >= std::chrono::milliseconds(options_.batch_ms))
    return commit();
  return Status{};
}

Done SqliteStore::flush() {
  return commit();
}

}  // namespace rpsync::store
