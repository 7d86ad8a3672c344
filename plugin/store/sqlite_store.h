// SPDX-License-Identifier: MIT
// The embedded default Store: one SQLite file in WAL mode.
//
// Layout: presence is log-structured, because ingest is a stream of upserts on random
// keys and a B-tree updated in place rewrites nearly every page per commit:
//   presence_log(seq, n, records)  one row per write(): its n presence mutations
//                                  (codec.h append_log_record: jid + fields or erase)
//   resources(jid -> fields blob)  the folded base
// Once the log holds more than three times as many mutations as the base has rows (and
// at least compact_min_log) it is folded into the base in key order, in one transaction
// (each fold reported to StoreOptions::on_fold).
// load() reads the base, then replays the log. Rosters, sessions (keys) and the epoch are ordinary
// tables (meta(epoch, schema), rosters(user -> contacts blob), sessions((user, stream, resource) ->
// key moments blob)); blobs per plugin/store/codec.h.
//
// Commits: write() applies mutations inside an open transaction, committed when
// options.batch_records mutations are pending, when the oldest pending one is older than
// options.batch_ms (checked on write(); the owner should also call flush() on a timer),
// or on flush(). Commits happen only at write() boundaries, so what survives a crash is
// always a prefix of the written batches. With synchronous_full each commit is fsynced
// (durable against power loss; an fsync costs ~1-2 ms on typical disks, so flush once per
// event-loop turn and then send every acknowledgement that waited for it: group commit);
// otherwise WAL+NORMAL (durable against a process crash, not against power loss).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "plugin/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rpsync::store {

class SqliteStore final : public Store {
 public:
  // Opens or creates `path`; nullptr-free: errors come back as kIoError.
  static StatusOr<std::unique_ptr<Store>> open(const std::string& path,
                                               const StoreOptions& options);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StatusOr<core::Image> load() override;
  Done write(const core::Batch& batch) override;
  Done flush() override;

 private:
  struct Stmts;
  SqliteStore(sqlite3* db, const StoreOptions& options);
  Done exec(const char* sql);
  Done fail(const char* what);
  Done commit();
  Done compact();
  Done fold(FoldReport& report);
  std::uint64_t count_rows(const char* table, const char* what = "count(*)");
  sqlite3_stmt* bind_mutation(const core::Mutation& m, std::string& blob, std::string& log,
                              std::uint64_t& log_records);

  sqlite3* db_;
  StoreOptions options_;
  std::unique_ptr<Stmts> stmts_;
  bool in_tx_ = false;
  std::size_t pending_ = 0;
  std::chrono::steady_clock::time_point tx_start_{};
  std::uint64_t base_rows_ = 0;  // rows in resources (as of the last load/compaction)
  std::uint64_t log_rows_ = 0;   // presence mutations in presence_log
};

}  // namespace rpsync::store
