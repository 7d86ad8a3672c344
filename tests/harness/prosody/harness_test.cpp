// SPDX-License-Identifier: MIT
// The harness itself: a Prosody comes up on its own ports, accepts users written as
// storage files (before and after start), keeps ports and data across restart().
#include <gtest/gtest.h>

#include <cstdlib>

#include "protocol/ns.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::test {
namespace {

TEST(ProsodyEscape, MatchesDatamanagerEncoding) {
  EXPECT_EQ(prosody_escape("example.test"), "example%2etest");
  EXPECT_EQ(prosody_escape("a_b-c"), "a%5fb%2dc");
}

TEST(ProsodyServer, ReportsWhyWhenTheExecutableIsMissing) {
  const char* old = std::getenv("RPSYNC_PROSODY");
  std::string saved = old ? old : "";
  ::setenv("RPSYNC_PROSODY", "/nonexistent/prosody", 1);
  std::string why;
  auto server = ProsodyServer::start({}, &why);
  if (old)
    ::setenv("RPSYNC_PROSODY", saved.c_str(), 1);
  else
    ::unsetenv("RPSYNC_PROSODY");
  EXPECT_EQ(server, nullptr);
  EXPECT_NE(why.find("not installed"), std::string::npos) << why;
}

TEST(ProsodyServer, UsersLogInBeforeAndAfterRestartOnTheSamePorts) {
  auto server = ProsodyServer::create({}, nullptr);
  if (!server) GTEST_SKIP() << "prosody is not installed";
  server->add_user("alice", "example.test", "secret-a");
  ASSERT_TRUE(server->launch()) << server->log();
  uint16_t c2s = server->c2s_port();
  std::string why;
  auto alice = TestClient::login(c2s, "alice", "example.test", "secret-a", "r1", &why);
  ASSERT_TRUE(alice) << why;
  EXPECT_EQ(alice->jid(), "alice@example.test/r1");
  EXPECT_FALSE(TestClient::login(c2s, "alice", "example.test", "wrong", "r2", &why));
  alice->close();

  server->add_user("bob", "example.test", "secret-b");  // read on demand while running
  EXPECT_TRUE(TestClient::login(c2s, "bob", "example.test", "secret-b", "r", &why)) << why;

  ASSERT_TRUE(server->restart()) << server->log();
  EXPECT_EQ(server->c2s_port(), c2s);
  EXPECT_TRUE(TestClient::login(c2s, "alice", "example.test", "secret-a", "r3", &why)) << why;
  server->kill();
  EXPECT_FALSE(server->running());
  EXPECT_FALSE(TestClient::login(c2s, "alice", "example.test", "secret-a", "r4", &why));
}

}  // namespace
}  // namespace rpsync::test
