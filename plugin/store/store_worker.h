// SPDX-License-Identifier: MIT
// A Store run off the event loop: one thread owns the Store (its commits, SQLite's fold,
// every Redis round trip) and runs, in order, the writes and flushes the loop queues
// (async_store.h). Each outcome is posted back to the loop through `post` (asio::post on
// the component), in the order the items ran, so the loop never waits for storage.
//
// Bounds: at most max_queue writes wait (write() returns false beyond, taking nothing;
// flushes are bounded by the caller); flush_and_wait() is the only call that blocks its caller, at
// most its bound. `prepare`, if set, sees each batch on the caller's thread before it is queued
// (what must be read from the engine at hand-over time, e.g. the change feed's digests). Shutdown:
// the destructor drains what is queued (at most drain_bound), then joins. Threading: write(),
// flush(), flush_and_wait() and queued() from one thread (the loop); the Store must not be used by
// anyone else while the worker runs.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "plugin/store/async_store.h"

namespace rpsync::store {

struct WorkerOptions {
  std::size_t max_queue = 256;                   // writes waiting
  std::chrono::milliseconds drain_bound{10000};  // destructor: longest wait for the queue
};

class StoreWorker final : public AsyncStore {
 public:
  using Post = std::function<void(std::function<void()>)>;
  using Prepare = std::function<void(const core::Batch&)>;
  StoreWorker(Store& store, WorkerOptions options, Post post, Prepare prepare = {});
  ~StoreWorker() override;
  StoreWorker(const StoreWorker&) = delete;
  StoreWorker& operator=(const StoreWorker&) = delete;

  bool write(core::Batch batch, Completion done) override;
  bool flush(Completion done) override;
  Status flush_and_wait(std::chrono::milliseconds bound) override;
  std::size_t queued() const override;
  bool full() const override;
  void set_prepare(Prepare prepare) { prepare_ = std::move(prepare); }

 private:
  struct Item {
    bool flush = false;
    core::Batch batch;
    Completion done;
    std::function<void(const Status&)> direct;  // run on the worker (flush_and_wait)
  };
  bool push(Item item);
  void run();
  Status execute(const Item& item);

  Store& store_;
  WorkerOptions options_;
  Post post_;
  Prepare prepare_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::size_t busy_ = 0;    // items taken off queue_ and not finished
  std::size_t writes_ = 0;  // writes in queue_ (the bounded part)
  Status failed_;           // worker thread: a write failed since the last flush
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace rpsync::store
