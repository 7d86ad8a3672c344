// SPDX-License-Identifier: MIT
// The child-process helper on real programs: exit codes, a signal that ends a child, a
// sleeper killed after a timeout, the log file, environment and working directory.
#include "tests/harness/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "tests/harness/util.h"

namespace rpsync::test {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

// No such process, or only its zombie (a container's init may not reap orphans).
bool process_gone(pid_t pid) {
  if (::kill(pid, 0) != 0) return true;
  std::string stat = util::read_file("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

class ChildProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "rpsync-child-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(ChildProcessTest, TrueExitsZero) {
  ChildProcess child;
  ASSERT_TRUE(child.spawn({.argv = {"/bin/true"}}).ok());
  EXPECT_GT(child.pid(), 0);
  auto exit = child.wait_for(milliseconds(5000));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 0);
  EXPECT_EQ(exit->signal, 0);
  EXPECT_FALSE(child.running());
  EXPECT_EQ(child.pid(), -1);
}

TEST_F(ChildProcessTest, ShellExitCodeIsReported) {
  ChildProcess child;
  ASSERT_TRUE(child.spawn({.argv = {"/bin/sh", "-c", "exit 3"}}).ok());
  auto exit = child.wait_for(milliseconds(5000));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 3);
  ASSERT_TRUE(child.last_exit().has_value());
  EXPECT_EQ(child.last_exit()->code, 3);
}

TEST_F(ChildProcessTest, SleeperIsKilledAfterTheTimeout) {
  ChildProcess child;
  ASSERT_TRUE(child.spawn({.argv = {"/bin/sleep", "30"}}).ok());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(child.wait_for(milliseconds(200)).has_value());
  EXPECT_TRUE(child.alive());
  ChildExit exit = child.kill();
  EXPECT_EQ(exit.code, -1);
  EXPECT_EQ(exit.signal, SIGKILL);
  EXPECT_FALSE(child.alive());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(ChildProcessTest, StopSendsTermFirst) {
  ChildProcess child;
  ASSERT_TRUE(child.spawn({.argv = {"/bin/sleep", "30"}}).ok());
  ChildExit exit = child.stop(milliseconds(5000));
  EXPECT_EQ(exit.signal, SIGTERM);
}

TEST_F(ChildProcessTest, StopKillsWhatIgnoresTerm) {
  ChildProcess child;
  ASSERT_TRUE(child
                  .spawn({.argv = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & wait"},
                          .own_process_group = true})
                  .ok());
  std::this_thread::sleep_for(milliseconds(200));  // the trap is set
  ChildExit exit = child.stop(milliseconds(300));
  EXPECT_EQ(exit.signal, SIGKILL);
}

TEST_F(ChildProcessTest, DestructorKillsTheChild) {
  pid_t pid = -1;
  {
    ChildProcess child;
    ASSERT_TRUE(child.spawn({.argv = {"/bin/sleep", "30"}}).ok());
    pid = child.pid();
  }
  EXPECT_TRUE(process_gone(pid));
}

TEST_F(ChildProcessTest, OutputEnvironmentAndDirectory) {
  const std::string log = (dir_ / "out.log").string();
  ChildProcess child;
  ChildSpec spec{.argv = {"/bin/sh", "-c", "echo \"$RPSYNC_CHILD_TEST\" $(pwd); echo err >&2"},
                 .env = {"RPSYNC_CHILD_TEST=first", "RPSYNC_CHILD_TEST=hello"},
                 .cwd = dir_.string(),
                 .log_path = log};
  ASSERT_TRUE(child.spawn(spec).ok());
  ASSERT_TRUE(child.wait_for(milliseconds(5000)).has_value());
  ASSERT_TRUE(child.spawn(spec).ok());  // appends by default
  ASSERT_TRUE(child.wait_for(milliseconds(5000)).has_value());
  const std::string line = "hello " + fs::canonical(dir_).string() + "\nerr\n";
  EXPECT_EQ(util::read_file(log), line + line);
  spec.truncate_log = true;
  ASSERT_TRUE(child.spawn(spec).ok());
  ASSERT_TRUE(child.wait_for(milliseconds(5000)).has_value());
  EXPECT_EQ(util::read_file(log), line);
}

TEST_F(ChildProcessTest, ReplacedEnvironmentHasOnlyTheGivenNames) {
  const std::string log = (dir_ / "env.log").string();
  ::setenv("RPSYNC_CHILD_INHERITED", "yes", 1);
  ChildProcess child;
  ASSERT_TRUE(child
                  .spawn({.argv = {"/bin/sh", "-c", "echo \"[$RPSYNC_CHILD_INHERITED][$ONLY]\""},
                          .env = {"ONLY=1"},
                          .replace_env = true,
                          .log_path = log})
                  .ok());
  ASSERT_TRUE(child.wait_for(milliseconds(5000)).has_value());
  ::unsetenv("RPSYNC_CHILD_INHERITED");
  EXPECT_EQ(util::read_file(log), "[][1]\n");
}

TEST_F(ChildProcessTest, MissingExecutableExits127) {
  ChildProcess child;
  ASSERT_TRUE(child.spawn({.argv = {"/nonexistent/program"}}).ok());
  auto exit = child.wait_for(milliseconds(5000));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->code, 127);
}

TEST_F(ChildProcessTest, EmptyArgvIsRejected) {
  ChildProcess child;
  Status s = child.spawn({});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(child.running());
}

TEST_F(ChildProcessTest, OwnProcessGroupIsKilledWhole) {
  const std::string log = (dir_ / "grand.log").string();
  ChildProcess child;
  ASSERT_TRUE(child
                  .spawn({.argv = {"/bin/sh", "-c", "sleep 30 & echo $!; wait"},
                          .log_path = log,
                          .own_process_group = true})
                  .ok());
  std::string text;
  for (int i = 0; i < 250 && text.find('\n') == std::string::npos; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    text = util::read_file(log);
  }
  ASSERT_NE(text.find('\n'), std::string::npos);
  const pid_t grandchild = static_cast<pid_t>(std::stol(text));
  child.kill();
  // The grandchild was re-parented; it must be dead within a moment.
  bool gone = false;
  for (int i = 0; i < 250 && !gone; ++i) {
    gone = process_gone(grandchild);
    if (!gone) std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace rpsync::test
