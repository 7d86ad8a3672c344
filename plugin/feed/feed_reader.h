// SPDX-License-Identifier: MIT
// Reads the change feed (entry.h) for one instance: one consumer group per instance
// (group name = consumer name = instance id), so every instance sees every entry.
//
// Delivery contract:
//  * At least once, in stream order, each entry handed to apply() on the owner's thread;
//    the reader XACKs an entry only after apply() returned true for it. apply() returning
//    false stops the batch there; the reader backs off and delivers the rest again (from
//    its pending list), before anything newer.
//  * At most once per id: an entry whose id is <= the last applied id is acknowledged
//    without applying (ids are totally ordered) and counted in duplicates_by_id. The last
//    applied id starts at ReaderOptions::last_applied: an owner that keeps what it applied
//    durably (a file, a database) passes the newest id it holds, so entries delivered
//    before a crash but never acknowledged are not applied twice. The component rebuilds
//    its engine from the Redis image at start-up and passes prepare()'s baseline.
//  * A re-sent commit (same writer id "INCARNATION:COUNTER", see entry.h) is acknowledged
//    without applying (duplicates_by_writer).
//  * Entries from this instance itself (origin == instance) are acknowledged without
//    applying: it applied them when it made them.
//  * Crash/restart: on start (and after every lost connection) the reader first delivers
//    its pending entries (delivered before, never acknowledged: XREADGROUP ... 0), then
//    new ones (>). Every redeliver_after_ms it also XAUTOCLAIMs the group's entries
//    pending for longer than that and delivers them again. With one consumer per group
//    (the normal case) nothing is pending there outside a failure, which already makes
//    the reader re-read its pending list; the claim exists for entries left to another
//    consumer name in the group, and those older than the last applied id are
//    suppressed as duplicates like any other (do not rename consumers of a live group).
//  * Feed gap: on_gap(why) is called (through the executor, before any later entry) when
//    entries were lost to this instance: sequence numbers jump (trimmed by retention
//    before it read them), a pending entry was trimmed before it was applied, an entry
//    cannot be decoded, or its consumer group vanished (Redis lost its data). The owner
//    must treat it as a continuity gap (Engine::gap()).
//  * Redis unavailable: ready() turns false and last_error() says why; the reader retries
//    with exponential backoff (backoff_min_ms doubling up to backoff_max_ms) and resumes
//    from its pending list and the group's position when Redis is back.
//
// Threading: the reader owns one thread doing blocking Redis calls on its own connection.
// apply() and on_gap() run only inside tasks handed to `executor`, which must run tasks in
// the order given (e.g. asio::post to the component's loop; tests may run them inline). The
// reader waits for each apply task before acknowledging. stop() (and the destructor) joins
// the thread within about block_ms + the Redis timeout; tasks that have not started by then
// become no-ops. Call stop() on the executor's thread, or drain the executor before
// destroying what apply() uses. stats(), ready(), last_error() are safe from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "plugin/feed/entry.h"
#include "plugin/store/redis_store.h"
#include "protocol/status.h"

namespace rpsync::feed {

struct ReaderOptions {
  std::string instance;              // FeedConfig::instance
  std::string last_applied = "0-0";  // see the contract above
  int batch = 256;                   // entries per read
  int block_ms = 200;                // XREADGROUP BLOCK (also bounds stop())
  int redeliver_after_ms = 5000;     // XAUTOCLAIM min idle time
  int backoff_min_ms = 50;
  int backoff_max_ms = 2000;
};

using Executor = std::function<void(std::function<void()>)>;
using ApplyFn = std::function<bool(const Entry&)>;
using GapFn = std::function<void(const std::string& why)>;

struct ReaderStats {
  std::uint64_t applied = 0;
  std::uint64_t own = 0;                   // this instance's entries, acknowledged
  std::uint64_t duplicates_by_id = 0;      // id <= last applied
  std::uint64_t duplicates_by_writer = 0;  // a re-sent commit
  std::uint64_t redelivered = 0;           // pending entries delivered again
  std::uint64_t gaps = 0;                  // on_gap calls
  std::uint64_t failures = 0;              // Redis unavailable / apply refused, then retried
  std::string last_applied;                // newest id applied or skipped
};

class FeedReader {
 public:
  struct Prepared {
    bool created = false;          // the group did not exist
    std::string baseline = "0-0";  // id of the newest entry in the stream at that moment
  };
  // Creates the instance's consumer group when missing, at the stream's current end
  // (remembering the current sequence number), and returns the newest entry's id. Call it
  // right BEFORE loading the store image at start-up and pass `baseline` as
  // ReaderOptions::last_applied: an entry lands in the same MULTI/EXEC as its data, so
  // every entry up to the baseline is already in the image (acknowledged without
  // applying, including those left pending by a crash), and every later one is delivered.
  // kUnavailable or kTimeout when Redis is unavailable, kIoError when it refuses.
  static StatusOr<Prepared> prepare(const store::RedisTarget& target, std::string_view instance);

  FeedReader(store::RedisTarget target, ReaderOptions options, Executor executor, ApplyFn apply,
             GapFn on_gap);
  ~FeedReader();
  FeedReader(const FeedReader&) = delete;
  FeedReader& operator=(const FeedReader&) = delete;

  void start();
  void stop();
  ReaderStats stats() const;
  bool ready() const;
  // Connected, and the last read of new entries found none (everything published before
  // it was handed to apply()). Owners may hold back answers until then after start-up.
  bool caught_up() const;
  std::string last_error() const;

  struct Shared;  // state shared with the reader thread (feed_reader.cpp)

 private:
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
};

}  // namespace rpsync::feed
