// SPDX-License-Identifier: MIT
// The Redis backend of the store contract suite (tests/plugin/store/backends.h): one real
// redis-server per test process (tests/harness/redis), started on first use with AOF
// (appendfsync always); each backend instance gets its own key prefix, so instances never
// see each other's data and open() over the same prefix is a "restart".
// When redis-server is not installed the test is marked skipped with the reason and runs
// over a MemoryStore stand-in so that its assertions do not turn the skip into a failure.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "plugin/store/memory_store.h"
#include "plugin/store/store.h"
#include "tests/harness/redis/redis_server.h"

namespace rpsync::store::testing {

inline test::RedisServer* shared_redis(std::string* why) {
  static std::string reason;
  static std::unique_ptr<test::RedisServer> server = test::RedisServer::start({}, &reason);
  if (why) *why = reason;
  return server.get();
}

struct RedisBackend {
  static constexpr const char* kName = "redis";
  RedisBackend() {
    static int n = 0;
    prefix = "ct" + std::to_string(::getpid()) + "n" + std::to_string(++n);
    server = shared_redis(&why);
    if (!server) skip();
  }
  ~RedisBackend() {
    if (server)  // leave the shared server as clean as we found it
      server->command({"EVAL",
                       "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do "
                       "redis.call('DEL', k) end return 0",
                       "0", prefix + ":*"});
  }
  void skip() {
    if (test::RedisServer::find_executable()) {
      ADD_FAILURE() << "redis-server is installed but did not start: " << why;
    } else {
      GTEST_SKIP() << why;
    }
  }
  std::unique_ptr<Store> open() {
    if (!server) return std::make_unique<MemoryStore>(stand_in);
    auto s = open_store(server->uri(0, prefix));
    EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.status().message());
    return s.ok() ? std::move(s.value()) : nullptr;
  }

  std::string prefix;
  std::string why;
  test::RedisServer* server = nullptr;
  std::shared_ptr<MemoryData> stand_in = std::make_shared<MemoryData>();
};

}  // namespace rpsync::store::testing
