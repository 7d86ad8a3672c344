// SPDX-License-Identifier: MIT
// One blocking hiredis connection for the feed's own traffic (reader, writer, heartbeat),
// separate from the Store's: a reader blocks in XREADGROUP, which must not stall commits.
// Internal to plugin/feed.
//
// Every call (re)connects when there is no healthy connection (AUTH and SELECT as in the
// store's URI). Transport failures (unreachable, reply timeout, connection lost) come back
// as a Status (kUnavailable, or kTimeout for no reply in time) with a text naming the
// server and drop the connection, so
// the next call starts afresh; error replies (LOADING, NOGROUP, ...) are values
// (Value::error) for the caller to judge, except while connecting.
// Threading: one thread at a time.
#pragma once

#include <string>
#include <vector>

#include "plugin/store/redis_store.h"
#include "protocol/status.h"

struct redisContext;
struct redisReply;

namespace rpsync::feed {

// A reply, copied out of hiredis.
struct Value {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // string, status, error text; integers as text too
  long long integer = 0;
  std::vector<Value> elements;

  bool nil() const { return type == Type::kNil; }
  bool error() const { return type == Type::kError; }
  bool array() const { return type == Type::kArray; }
};

class Link {
 public:
  explicit Link(store::RedisTarget target);
  ~Link();
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // One command; `wait_ms` > 0 extends the reply timeout for this call (blocking reads).
  StatusOr<Value> run(const std::vector<std::string>& args, int wait_ms = 0);
  // Several commands pipelined; one Value per command.
  StatusOr<std::vector<Value>> run_all(const std::vector<std::vector<std::string>>& cmds);
  void drop();  // closes the connection (the next call reconnects)
  const store::RedisTarget& target() const { return target_; }

 private:
  Status ensure();
  StatusOr<std::vector<Value>> exec(const std::vector<std::vector<std::string>>& cmds, int wait_ms);
  // Drops the connection and says what failed (kTimeout or kUnavailable).
  Status fail(const std::string& what);

  store::RedisTarget target_;
  redisContext* ctx_ = nullptr;
};

}  // namespace rpsync::feed
