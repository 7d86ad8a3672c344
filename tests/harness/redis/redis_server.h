// SPDX-License-Identifier: MIT
// A real redis-server started for one test on loopback, with its own temp dir, config and
// free port (same spirit as the Prosody and ejabberd harnesses).
//
// Contract: start() writes <tmp>/redis.conf (bind 127.0.0.1, the chosen port, dir <tmp>,
// no RDB snapshots, AOF as configured) and launches redis-server as a child (killed by
// the kernel if the test process dies: PR_SET_PDEATHSIG), returning once it answers PING
// with PONG (at most 10 s; a server still loading its AOF answers LOADING and is waited
// for). stop() shuts it down cleanly (SIGTERM), kill() with SIGKILL (an AOF fsynced with
// appendfsync always must survive it), restart() launches again on the same port and dir.
// The temp dir is removed at destruction.
// Not thread-safe: use from the test's thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/child_process.h"

namespace rpsync::test {

struct RedisOptions {
  bool appendonly = true;
  std::string appendfsync = "always";  // always | everysec | no
  std::string password;                // requirepass when not empty
  bool cluster_enabled = false;        // a lone cluster node (for CLUSTER KEYSLOT)
};

// One reply, flattened: status/string/error in `str`, integers in `integer`, array
// elements (strings or integers as text) in `elements`.
struct RedisReply {
  bool error = false;  // an error reply (text in str)
  bool nil = false;
  std::string str;
  long long integer = 0;
  std::vector<std::string> elements;
};

class RedisServer {
 public:
  // $RPSYNC_REDIS_SERVER, else redis-server on PATH or /usr/bin; nullopt when missing.
  static std::optional<std::string> find_executable();
  // Null with `why` when redis-server is not installed or did not come up.
  static std::unique_ptr<RedisServer> start(RedisOptions options, std::string* why);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  // redis://127.0.0.1:PORT/DB?prefix=..(&password=..)
  std::string uri(int db = 0, const std::string& prefix = "rpsync") const;
  bool running() const { return child_.running(); }

  void stop();     // SIGTERM and wait (bounded 10 s, then SIGKILL)
  void kill();     // SIGKILL and wait
  bool restart();  // launch again (same port, dir, config); false when it did not come up
  void freeze();   // SIGSTOP: connections still open, nothing answered (a hung server)
  void thaw();     // SIGCONT

  // One command on a fresh connection; nullopt when the server cannot be reached.
  std::optional<RedisReply> command(const std::vector<std::string>& args) const;
  std::string log() const;

 private:
  RedisServer(std::string exe, RedisOptions options);
  bool launch(std::string* why);

  std::string exe_;
  RedisOptions options_;
  std::filesystem::path dir_;
  uint16_t port_ = 0;
  ChildProcess child_;
};

}  // namespace rpsync::test
