// SPDX-License-Identifier: MIT
// A Store on Redis (hiredis), for several component instances sharing one state.
//
// URI: redis://[[USER]:PASSWORD@]HOST:PORT[/DB][?password=SECRET&prefix=NAME&timeout_ms=N&tls=1]
//   DB defaults to 0, prefix (key namespace, [A-Za-z0-9_-]+) to "rpsync", timeout_ms (connect
//   and per-reply) to 5000. The port is required. tls=1 is refused (kInvalidArgument): Debian 12's
//   libhiredis 0.14 has no TLS (hiredis_ssl arrived in 1.0); use a loopback stunnel or a
//   newer hiredis.
//
// Key layout (ready for Redis Cluster: every key carries a hash tag, so all keys that one
// MULTI/EXEC or Lua script may have to touch together for one owner sit in one slot):
//   P:{u:USER}:roster     string  encode_contacts(visible roster)      one user's data:
//   P:{u:USER}:sess       hash    field = len(stream) ":" stream resource   -> encode_txns
//   P:{c:BARE}:res        hash    field = full JID -> encode_resource  one contact's data
//   P:{meta}:epoch        string  the continuity epoch (decimal)
//   P:{feed}:*, P:{meta}:gepoch|inst:ID|since|last|gapfrom|grp   the change feed and group
//                         continuity of several instances (plugin/feed); load() skips them
// Rosters and sessions belong to one user, so they share the tag {u:USER}. A presence
// record belongs to a contact resource and is shared by every user who has that contact
// in a roster: tagging it with a user would either duplicate it per watcher or pick an
// arbitrary owner, so it is tagged with the contact's bare JID {c:BARE}; all resources of
// one contact live in one hash (one slot), and "bob went offline on every resource" is one
// key. USER/BARE are the JIDs verbatim; keys are parsed back by their fixed prefix and
// suffix, so braces inside a JID only change which slot a key hashes to, never its meaning.
//
// Durability and atomicity: write() buffers mutations (and commits on its own after
// options.batch_records mutations or batch_ms age, at a write() boundary); a commit is one
// pipelined MULTI ... EXEC, so a batch lands atomically and what load() sees is a prefix of
// the mutation sequence cut at a commit (hence mutation) boundary. flush() returns when
// EXEC has replied; with `appendonly yes` + `appendfsync always` on the server that reply
// comes after the transaction is fsynced to the AOF, so "flushed" survives a kill -9 of
// Redis (a torn MULTI at the AOF tail is dropped by Redis on load). With a weaker server
// config the durability is the server's, not ours. On Redis Cluster a commit would have to
// be split per slot (MULTI cannot span slots): each user's and each contact's part stays
// atomic, the global prefix property does not; only standalone Redis is implemented.
//
// The epoch is written with a tiny Lua script that only raises it: epochs stay comparable
// (monotonic) across instances and a slow instance cannot move it backwards. This is the
// one place where "later mutations override earlier ones" is replaced by "the higher
// wins"; the engine only ever raises its epoch, so for one writer both are the same.
//
// Failures: every call (re)connects if the connection is gone; an unreachable server, a
// reply timeout or an error reply (LOADING, MISCONF, NOAUTH, ...) comes back as a Status
// (kUnavailable, kTimeout for no reply in time, kIoError for a failed commit) with a text
// naming the server and the reason. Nothing is lost:
// mutations stay buffered until an EXEC succeeded, and a commit whose outcome is unknown
// (connection lost before the EXEC reply) is simply sent again: every mutation sets a
// row to an absolute value, so applying the same sequence twice in order ends in the
// same state. So that the abandoned connection's MULTI cannot run *after* the re-sent one
// (a frozen or slow server still holding it in its input buffer), the next connection
// first does CLIENT KILL ID <old> ADDR <old local address> (single-threaded server: the old
// transaction has then either run completely or never will); an ACL user needs
// +client|kill for this. The same Store object recovers on the next call once Redis is back.
//
// load() walks the keyspace with SCAN MATCH P:* (pipelined reads per page). It is meant for
// start-up with no concurrent writer; it is not a snapshot.
//
// Several instances: the change feed is a Redis Stream written in the SAME
// MULTI/EXEC as the data it describes, through set_commit_hook() (plugin/feed builds the
// hook: one XADD per commit, plus its sequence number), so data and feed never disagree:
// a commit either lands with its feed entries or not at all. A commit re-sent after an
// unknown outcome repeats its feed entries with the same writer counter, which readers
// drop (plugin/feed/feed_reader.h). Group continuity (heartbeats, the group epoch) lives
// in plugin/feed/continuity.h; the epoch key below stays this store's per-engine epoch.
//
// Threading: one thread at a time (Store contract); one blocking connection per Store.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plugin/store/store.h"

struct redisContext;

namespace rpsync::store {

struct RedisTarget {
  std::string host;
  int port = 0;
  int db = 0;
  std::string username;  // Redis 6 ACL user (AUTH USER PASSWORD); empty: AUTH PASSWORD
  std::string password;
  std::string prefix = "rpsync";
  int timeout_ms = 5000;
};

// Parses the URI above; kInvalidArgument with the reason when malformed or unsupported (tls=1).
StatusOr<RedisTarget> parse_redis_uri(std::string_view uri);

// hiredis writes with plain write(2): a server that went away would raise SIGPIPE and kill
// the process. Blocks it on this thread for the guard's scope and swallows one raised
// meanwhile, without touching the process-wide disposition. Hold one around hiredis I/O.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

class RedisStore final : public Store {
 public:
  // Connects once (start-up fails fast with kUnavailable when Redis is unreachable).
  static StatusOr<std::unique_ptr<Store>> open(const RedisTarget& target,
                                               const StoreOptions& options);
  // The same, typed (for set_commit_hook).
  static StatusOr<std::unique_ptr<RedisStore>> open_redis(const RedisTarget& target,
                                                          const StoreOptions& options);

  // Extra commands (argument vectors) to run inside the MULTI/EXEC of a commit, after the
  // commit's own writes. Called on the Store's thread, from write()/flush(), exactly once
  // per mutation: with the mutations buffered since its last call, in order. Its commands
  // stay attached to those mutations until a commit succeeds (a retried commit re-sends
  // the very same commands). Errors inside EXEC fail the commit like any other.
  using CommitHook =
      std::function<std::vector<std::vector<std::string>>(const core::Batch& committed)>;
  void set_commit_hook(CommitHook hook) { hook_ = std::move(hook); }
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  StatusOr<core::Image> load() override;
  // Only the presence rows (Image::resources; epoch 0, no rosters or sessions): what the
  // instances sharing this store committed of every contact. Per contact one atomic read
  // (HGETALL); not a snapshot across contacts. For an instance re-learning presence after
  // its own gap (feed/replica.h); as costly as the rows are many (SCAN + one read each).
  StatusOr<core::Image> load_presence();
  // Buffers the batch; on a failed automatic commit the batch stays buffered (do not
  // write it again) and the error is returned.
  Done write(const core::Batch& batch) override;
  Done flush() override;

  // Key names (for tests and tools).
  std::string roster_key(std::string_view user) const;
  std::string sessions_key(std::string_view user) const;
  std::string resources_key(std::string_view bare) const;
  std::string epoch_key() const;

 private:
  RedisStore(RedisTarget target, const StoreOptions& options);
  Done connect();
  Done ensure_connected();
  StatusOr<core::Image> scan_image(const std::string& match);
  Done commit();
  // The connection failed (`what`): drops it and says so (kTimeout or kUnavailable).
  Status lost(std::string_view what);

  RedisTarget target_;
  StoreOptions options_;
  redisContext* ctx_ = nullptr;
  long long client_id_ = 0;  // CLIENT ID of ctx_ and its local address as Redis prints it
  std::string client_addr_;
  long long stale_id_ = 0;  // a connection given up on; CLIENT KILLed on the next connect
  std::string stale_addr_;
  core::Batch pending_;
  CommitHook hook_;
  std::vector<std::vector<std::string>> hook_cmds_;  // for pending_[0, hooked_)
  std::size_t hooked_ = 0;
  std::chrono::steady_clock::time_point first_pending_{};
};

}  // namespace rpsync::store
