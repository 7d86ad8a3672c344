// The embedded default Store: one SQLite file in WAL mode.
// Mutations are applied inside an open transaction that is committed when
// options.batch_records mutations are pending, when the oldest pending one is older than
// options.batch_ms (checked on write(); the owner should also call flush() on a timer),
// or on flush(). With synchronous_full each commit is fsynced (durable against power
// loss); otherwise WAL+NORMAL (durable against a process crash, not power loss).
// Rows: meta(epoch, schema), resources(jid -> fields blob), rosters(user -> contacts blob),
// sessions((user, stream, resource) -> key moments blob); blobs per plugin/store/codec.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "plugin/store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace rpsync::store {

class SqliteStore final : public Store {
 public:
  // Opens or creates `path`; nullptr-free: errors come back as kNotReady.
  static proto::Result<std::unique_ptr<Store>> open(const std::string& path,
                                                    const StoreOptions& options);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  proto::Result<core::Image> load() override;
  Done write(const core::Batch& batch) override;
  Done flush() override;

 private:
  struct Stmts;
  SqliteStore(sqlite3* db, const StoreOptions& options);
  Done exec(const char* sql);
  Done fail(const char* what);
  Done commit();

  sqlite3* db_;
  StoreOptions options_;
  std::unique_ptr<Stmts> stmts_;
  bool in_tx_ = false;
  std::size_t pending_ = 0;
  std::chrono::steady_clock::time_point tx_start_{};
};

}  // namespace rpsync::store
