// SPDX-License-Identifier: MIT
// A child process of a test or benchmark (a server, the component): spawned with an argv,
// environment, working directory and log file, signalled and reaped by its PID.
//
// Contract: spawn() forks and execs spec.argv[0] (a path, no PATH search). The child gets
// SIGKILL when the spawning process dies (PR_SET_PDEATHSIG, set after any credential drop,
// which would clear it). A child that cannot set itself up exits 126 before exec, one whose
// exec fails exits 127; spawn() itself fails only when fork() does. The ChildProcess is
// move-only; destroying it while the child runs kills the child (SIGKILL, and its process
// group when it has its own) and reaps it. Not thread-safe: use from one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "protocol/status.h"

namespace rpsync::test {

struct ChildSpec {
  std::vector<std::string> argv{};  // argv[0]: the executable's path
  // NAME=VALUE entries added to (or overriding) the inherited environment; with
  // replace_env the child's whole environment.
  std::vector<std::string> env{};
  bool replace_env = false;
  std::string cwd{};          // empty: the parent's working directory
  std::string log_path{};     // empty: inherit stdout/stderr; else both go to this file
  bool truncate_log = false;  // false: append to log_path
  bool log_stdout = true;     // false: only stderr goes to log_path, stdout is inherited
  // Close every descriptor above 2 (the test's sockets must not live on in the child, or
  // closing them in the test would not close the connection).
  bool close_other_fds = true;
  bool own_process_group = false;  // setpgid(0, 0): kill() reaches the child's children too
  // Run as this user/group (setgroups, setgid, setuid); the log file is chowned to it.
  std::optional<uid_t> uid = std::nullopt;
  std::optional<gid_t> gid = std::nullopt;
};

// How a reaped child ended.
struct ChildExit {
  int code = -1;   // exit code when it exited normally, else -1 (also when unknown)
  int signal = 0;  // the signal that ended it, 0 when it exited
};

class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts the child (a still running previous one is killed first).
  Status spawn(const ChildSpec& spec);

  pid_t pid() const { return pid_; }  // -1 when none runs
  bool running() const { return pid_ > 0; }
  // Sends `sig` to the child only (not its group); false when none runs.
  bool signal(int sig) const;
  // True while the child has not exited; reaps it when it has.
  bool alive();
  // Reaps the child within `timeout`; nullopt when it still runs then. When none runs,
  // the last exit seen (or a default ChildExit).
  std::optional<ChildExit> wait_for(std::chrono::milliseconds timeout);
  // SIGKILL (to the group too with own_process_group) and reap.
  ChildExit kill();
  // SIGTERM, wait up to `grace`, then kill(). The exit seen.
  ChildExit stop(std::chrono::milliseconds grace);
  // How the last child ended (nullopt before one was reaped).
  const std::optional<ChildExit>& last_exit() const { return last_exit_; }

 private:
  ChildExit reaped(std::optional<int> status);

  pid_t pid_ = -1;
  bool own_group_ = false;
  std::optional<ChildExit> last_exit_;
};

}  // namespace rpsync::test
