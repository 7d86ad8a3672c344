// SPDX-License-Identifier: MIT
// The Redis harness itself: it starts, answers, keeps AOF-fsynced data across kill -9 and
// comes back on the same port.
#include "tests/harness/redis/redis_server.h"

#include <gtest/gtest.h>

namespace rpsync::test {
namespace {

TEST(RedisServer, StartsKillsAndRestartsWithItsData) {
  std::string why;
  auto r = RedisServer::start({}, &why);
  if (!r && !RedisServer::find_executable()) GTEST_SKIP() << why;
  ASSERT_TRUE(r) << why;
  auto set = r->command({"SET", "k", "v"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->str, "OK");
  r->kill();
  EXPECT_FALSE(r->command({"PING"}).has_value());
  ASSERT_TRUE(r->restart()) << r->log();
  auto get = r->command({"GET", "k"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, "v");
  r->stop();
  EXPECT_FALSE(r->running());
}

TEST(RedisServer, PasswordIsRequiredWhenSet) {
  std::string why;
  RedisOptions o;
  o.password = "pw-123";
  auto r = RedisServer::start(o, &why);
  if (!r && !RedisServer::find_executable()) GTEST_SKIP() << why;
  ASSERT_TRUE(r) << why;
  auto ping = r->command({"PING"});  // command() authenticates with the configured password
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->str, "PONG");
  EXPECT_NE(r->uri().find("password=pw-123"), std::string::npos);
}

}  // namespace
}  // namespace rpsync::test
