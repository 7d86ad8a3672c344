// SPDX-License-Identifier: MIT
// The narrow durable-storage interface behind the engine (plugin/core), its backends and
// the factory that picks one from a URI.
//
// The engine stays in memory; a Store is its durable log: load() once at start-up (the
// image to Engine::restore()), write() every Batch the engine hands out, flush() before
// acknowledging anything to a client (enable, checkpoint, sync), so "acknowledged" means
// "durable".
//
// Contract every backend meets (tests/plugin/store/store_contract_test.cpp runs one typed
// suite over all of them):
//  * load() returns the state after applying, in order, every mutation written before the
//    last successful flush(), plus possibly some later ones: always a prefix of the
//    mutation sequence, cut at a mutation boundary (never a torn row).
//  * Later mutations override earlier ones for the same row; PutRoster with an empty
//    list and Erase* delete the row.
//  * write() may commit in batches on its own (by record count or age); flush() commits
//    whatever is pending and returns only when it is durable.
//  * Errors are values: a Status (protocol/status.h) whose code says what kind of failure
//    (kInvalidArgument, kUnavailable, kTimeout, kIoError, kCorrupt) and whose message,
//    prefixed "store: ", says what failed. Only where the service answers a stanza does it
//    become a StanzaError (proto::to_stanza_error: not-ready with that text).
// Threading: a Store is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "plugin/core/journal.h"
#include "protocol/status.h"

namespace rpsync::store {

using Done = Status;

class Store {
 public:
  virtual ~Store() = default;
  // Everything stored (epoch 0 and empty vectors for a new store).
  virtual StatusOr<core::Image> load() = 0;
  // Appends mutations; they may become durable later, in order.
  virtual Done write(const core::Batch& batch) = 0;
  // Makes every mutation written so far durable.
  virtual Done flush() = 0;
};

// One fold of the SQLite presence log into its base (SqliteStore), as reported to
// StoreOptions::on_fold: the largest single store call there is.
struct FoldReport {
  std::uint64_t log_records = 0;  // presence mutations read from the log
  std::uint64_t rows = 0;         // distinct resources applied to the base (puts and deletes)
  std::uint64_t base_rows = 0;    // rows in the base afterwards
  double ms = 0;                  // wall time of the whole fold
  bool ok = false;                // false: it failed and was rolled back
};

struct StoreOptions {
  std::size_t batch_records = 20000;      // commit after this many pending mutations...
  std::int64_t batch_ms = 50;             // ...or when the oldest pending one is this old
  bool synchronous_full = true;           // SQLite: fsync each commit (survives power loss)
  std::size_t cache_kib = 65536;          // SQLite page cache
  std::uint64_t compact_min_log = 65536;  // SQLite: fold the presence log no earlier
  // SQLite: called after each fold, on the thread that uses the store (the store's worker
  // or the event loop), e.g. to log it; empty: not reported.
  std::function<void(const FoldReport&)> on_fold;
};

// "memory:" (a fresh in-memory store) or "sqlite:/path/to/file.db" (created if missing;
// WAL mode), or "redis://..." (redis_store.h). Unknown schemes or malformed URIs ->
// kInvalidArgument; unopenable files -> kIoError; an unreachable Redis -> kUnavailable or
// kTimeout; each with the reason.
StatusOr<std::unique_ptr<Store>> open_store(std::string_view uri, const StoreOptions& options = {});

}  // namespace rpsync::store
