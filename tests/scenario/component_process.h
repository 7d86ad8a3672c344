// SPDX-License-Identifier: MIT
// The real rpsync-component binary (plugin/app) run as a child process of a scenario test.
//
// Contract: start() launches RPSYNC_COMPONENT_BINARY (a compile definition pointing at the
// built target) with the flags derived from ComponentSpec, the component secret in the
// RPSYNC_SECRET environment variable (never on the command line), its store at
// sqlite:<dir>/rpsync.db and stdout/stderr appended to <dir>/component.log. The child gets
// SIGKILL if the test process dies (PR_SET_PDEATHSIG). start() only checks that the process
// is running; readiness (stream up, privileges granted) is for the caller to observe on the
// wire. The destructor kills a still running child. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tests/harness/child_process.h"

namespace rpsync::test::scenario {

struct ComponentSpec {
  std::string component_jid{"rpsync.example.test"};
  std::string secret{"s3cret"};
  std::vector<std::string> domains{"example.test"};  // --domain, repeated
  std::vector<std::string> extra_args;               // e.g. {"--requests-per-minute", "30"}
  std::string binary;            // empty: the rpsync-component this target was built with
  std::vector<std::string> env;  // extra NAME=VALUE for the child (e.g. NOTIFY_SOCKET=...)
};

class ComponentProcess {
 public:
  // `dir` must exist; the store file and log live there. `port`: the server's component port.
  ComponentProcess(std::string dir, std::uint16_t port, ComponentSpec spec);
  ~ComponentProcess();
  ComponentProcess(const ComponentProcess&) = delete;
  ComponentProcess& operator=(const ComponentProcess&) = delete;

  // Launches the binary on the same store; false (with `why`) if it exited at once.
  bool start(std::string* why);
  // SIGTERM (the component closes its stream and flushes the store), waits up to 5 s,
  // then SIGKILL. Returns the exit status seen (-1 when it had to be killed).
  int terminate();
  // SIGKILL: a crash as the server and the store see it.
  void kill9();
  // True while the child has not exited (reaps it when it has).
  bool alive();
  // Everything the child wrote so far (all runs).
  std::string log() const;
  const std::string& store_path() const { return store_path_; }
  // The running child's pid (-1 when none), e.g. to send it SIGHUP.
  pid_t pid() const { return child_.pid(); }

 private:
  std::string dir_;
  std::uint16_t port_;
  ComponentSpec spec_;
  std::string store_path_;
  std::string log_path_;
  ChildProcess child_;
};

}  // namespace rpsync::test::scenario
