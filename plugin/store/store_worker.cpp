// SPDX-License-Identifier: MIT
#include "plugin/store/store_worker.h"

#include <memory>
#include <utility>

namespace rpsync::store {

StoreWorker::StoreWorker(Store& store, WorkerOptions options, Post post, Prepare prepare)
    : store_(store),
      options_(options),
      post_(std::move(post)),
      prepare_(std::move(prepare)),
      thread_([this] { run(); }) {}

StoreWorker::~StoreWorker() {
  (void)flush_and_wait(options_.drain_bound);
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    queue_.clear();  // what the bound left: dropped (the caller was told by the timeout)
  }
  wake_.notify_all();
  thread_.join();
}

bool StoreWorker::push(Item item) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    if (!item.flush) ++writes_;
    queue_.push_back(std::move(item));
  }
  wake_.notify_one();
  return true;
}

bool StoreWorker::write(core::Batch batch, Completion done) {
  if (full()) return false;  // only this thread pushes: the check holds until push()
  if (prepare_) prepare_(batch);
  Item item;
  item.batch = std::move(batch);
  item.done = std::move(done);
  return push(std::move(item));
}

bool StoreWorker::full() const {
  std::lock_guard lock(mu_);
  return writes_ >= options_.max_queue;
}

bool StoreWorker::flush(Completion done) {
  Item item;
  item.flush = true;
  item.done = std::move(done);
  return push(std::move(item));
}

Status StoreWorker::flush_and_wait(std::chrono::milliseconds bound) {
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    Status status;
  };
  auto waiter = std::make_shared<Waiter>();
  Item item;
  item.flush = true;
  item.direct = [waiter](const Status& s) {
    std::lock_guard lock(waiter->mu);
    waiter->done = true;
    waiter->status = s;
    waiter->cv.notify_all();
  };
  if (!push(std::move(item))) return Status::unavailable("store: the worker has stopped");
  std::unique_lock lock(waiter->mu);
  if (!waiter->cv.wait_for(lock, bound, [&] { return waiter->done; }))
    return Status::timeout("store: not durable within " + std::to_string(bound.count()) + " ms");
  return waiter->status;
}

std::size_t StoreWorker::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size() + busy_;
}

Status StoreWorker::execute(const Item& item) {
  if (!item.flush) {
    Status s = store_.write(item.batch);
    if (!s) failed_ = s;
    return s;
  }
  Status s = store_.flush();
  if (s && !failed_) s = failed_;
  failed_ = Status();
  return s;
}

void StoreWorker::run() {
  for (;;) {
    Item item;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      item = std::move(queue_.front());
      queue_.pop_front();
      if (!item.flush) --writes_;
      ++busy_;
    }
    Status status = execute(item);
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    if (item.direct) item.direct(status);
    if (item.done) post_([done = std::move(item.done), status] { done(status); });
  }
}

}  // namespace rpsync::store
