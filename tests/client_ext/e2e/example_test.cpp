// SPDX-License-Identifier: MIT
// Runs the rpsync-client example program (build/bin/rpsync-client) against a real
// Prosody and the scripted stub component, and checks what it prints.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "stub_component.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using testing::StubComponent;

std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// Drives the stub on its own thread while the example runs in a child process.
class StubThread {
 public:
  explicit StubThread(StubComponent& stub)
      : thread_([this, &stub] {
          while (!stop_) stub.recv(10'000);
        }) {}
  ~StubThread() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(ExampleProgram, PrintsEnableThenDeltaAcrossRestarts) {
  std::string why;
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
  if (!server) GTEST_SKIP() << why;
  server->add_user("alice", "example.test", "pw");
  server->add_user("bob", "example.test", "pw");
  server->add_roster_item("alice@example.test", "bob@example.test", test::Subscription::kBoth);
  server->add_roster_item("bob@example.test", "alice@example.test", test::Subscription::kBoth);
  ASSERT_TRUE(server->launch()) << server->log();
  StubComponent stub("rpsync.example.test", "s3cret", server->component_port());
  ASSERT_TRUE(stub.connect(false));
  for (int i = 0; i < 500 && !stub.ready(); ++i) stub.recv(10'000);
  ASSERT_TRUE(stub.ready());
  auto bob =
      test::TestClient::login(server->c2s_port(), "bob", "example.test", "pw", "phone", &why);
  ASSERT_TRUE(bob) << why;
  ASSERT_TRUE(bob->send_presence("", "hi"));

  const std::string state = (std::filesystem::temp_directory_path() /
                             ("rpsync-example-" + std::to_string(::getpid()) + ".db"))
                                .string();
  std::filesystem::remove(state);
  const std::string base = std::string(RPSYNC_CLIENT_EXAMPLE) +
                           " --jid alice@example.test/laptop --password pw --host 127.0.0.1" +
                           " --port " + std::to_string(server->c2s_port()) + " --state " + state +
                           " --max-seconds 30";
  std::string first;
  {
    StubThread t(stub);
    first = run(base + " --disconnect-after 3 --reconnect --run-for 1");
  }
  EXPECT_NE(first.find("rpsync: full-resync reason=no-stored-state"), std::string::npos) << first;
  EXPECT_NE(first.find("rpsync: component rpsync.example.test"), std::string::npos) << first;
  EXPECT_NE(first.find("rpsync: enabled digest=match"), std::string::npos) << first;
  EXPECT_NE(first.find("presence: available bob@example.test/phone available 'hi'"),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("rpsync: synced items=0"), std::string::npos) << first;
  EXPECT_NE(first.find("bye "), std::string::npos) << first;

  ASSERT_TRUE(bob->send_presence("dnd", "busy"));  // while the application is not running
  std::string second;
  {
    StubThread t(stub);
    second = run(base + " --disconnect-after 1");
  }
  EXPECT_NE(second.find("rpsync: synced items=1"), std::string::npos) << second;
  EXPECT_NE(second.find("  delta: changed bob@example.test/phone dnd 'busy'"), std::string::npos)
      << second;
  EXPECT_EQ(second.find("full-resync"), std::string::npos) << second;
  // Roster versioning is on by default and uses the same state file.
  EXPECT_NE(first.find("roster: request=bootstrap from_cache=0"), std::string::npos) << first;
  EXPECT_NE(second.find("roster: request=versioned from_cache=1"), std::string::npos) << second;
  EXPECT_NE(second.find(" items=1"), std::string::npos) << second;
  if (std::getenv("RPSYNC_SHOW_OUTPUT") != nullptr) std::cout << first << "----\n" << second;

  std::string third;
  {
    StubThread t(stub);
    third = run(base + " --disconnect-after 1 --no-roster-ver");
  }
  EXPECT_NE(third.find("roster: request=plain from_cache=0"), std::string::npos) << third;
  EXPECT_NE(third.find(" items=1"), std::string::npos) << third;
  std::filesystem::remove(state);
}

}  // namespace
}  // namespace rpsync::client
