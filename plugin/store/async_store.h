// SPDX-License-Identifier: MIT
// How the service hands work to a Store without waiting for it: writes and flushes are
// queued, and each one's outcome comes back later as a completion on the caller's thread.
//
//  * Order: items run in the order they were handed over; completions come back in the
//    same order. A flush's completion says whether everything handed over before it
//    (and the flush) is durable.
//  * A flush fails when a write handed over since the previous flush failed, even if the
//    store's own flush succeeded: its completion means "all of it is durable".
//  * Bounded: write() returns false and takes nothing when full() (the caller keeps what
//    it could not hand over and treats it like a store failure). Flushes carry no data and
//    are not counted: the caller bounds them (one per request in flight, one per tick).
//  * Two implementations: InlineStore (below; runs each item at once on the caller's
//    thread, for tests and tools) and StoreWorker (store_worker.h; one thread owns the
//    Store, completions are posted back to the event loop).
#pragma once

#include <chrono>
#include <functional>

#include "plugin/store/store.h"

namespace rpsync::store {

class AsyncStore {
 public:
  using Completion = std::function<void(const Status&)>;
  virtual ~AsyncStore() = default;
  // Queues `batch` (Store::write); `done`, if set, gets its outcome.
  virtual bool write(core::Batch batch, Completion done) = 0;
  // Queues a Store::flush; `done` gets its outcome.
  virtual bool flush(Completion done) = 0;
  // Blocks the caller until everything handed over so far is durable, at most `bound`
  // (kTimeout then): start-up, reload and shutdown, never per request.
  virtual Status flush_and_wait(std::chrono::milliseconds bound) = 0;
  // Items handed over and not yet finished.
  virtual std::size_t queued() const = 0;
  // Whether write() would refuse a batch now.
  virtual bool full() const = 0;
};

// Runs every item at once on the caller's thread (the completion before write() returns).
class InlineStore final : public AsyncStore {
 public:
  explicit InlineStore(Store& store) : store_(store) {}
  bool write(core::Batch batch, Completion done) override {
    Status s = store_.write(batch);
    if (!s) failed_ = s;
    if (done) done(s);
    return true;
  }
  bool flush(Completion done) override {
    Status s = flush_and_wait({});
    if (done) done(s);
    return true;
  }
  Status flush_and_wait(std::chrono::milliseconds) override {
    Status s = store_.flush();
    if (s && !failed_) s = failed_;
    failed_ = Status();
    return s;
  }
  std::size_t queued() const override { return 0; }
  bool full() const override { return false; }

 private:
  Store& store_;
  Status failed_;  // a write failed since the last flush
};

}  // namespace rpsync::store
