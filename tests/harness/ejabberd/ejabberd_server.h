// SPDX-License-Identifier: MIT
// A real ejabberd 23.01 started for one test on loopback, with its own config, spool
// (Mnesia) and log directory and free ports. Same public shape as ProsodyServer
// (tests/harness/prosody/prosody_server.h), so scenario tests can be typed over both servers.
//
// Contract: create() writes <tmp>/ejabberd.yml; launch() starts the Erlang VM directly
// (`erl -noinput -mnesia dir SPOOL -s ejabberd`, the command ejabberdctl's `foreground`
// would run) as a child process and returns once the c2s, component and admin-API ports
// accept connections (at most kStartTimeout) and every add_user()/add_roster_item()
// queued before launch has been applied. The VM runs without Erlang distribution (node
// nonode@nohost): no epmd, no cookie, no node name to collide between tests, nothing left
// running after stop. When the test runs as root it drops to the `ejabberd` system user
// (the directories are chown'ed to it), like ejabberdctl does.
//
// Users and roster items go through ejabberd's own admin commands (`register`,
// `add_rosteritem` of mod_admin_extra) over mod_http_api on a loopback port: one HTTP
// request each (~1-10 ms), applied immediately while running, queued while not. They are
// stored in Mnesia on disc, so they survive restart(). The child is killed when the
// EjabberdServer is destroyed (and by the kernel if the test process dies).
// Not thread-safe: use from the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/child_process.h"
#include "tests/harness/prosody/prosody_server.h"  // Subscription
#include "tests/harness/util.h"                    // free_port()

namespace rpsync::test {

// How long a started ejabberd may take to listen and serve a stream. It starts in about
// 5 s; on a loaded 2-core machine (builds and other servers beside it) it took over 20 s.
inline constexpr std::chrono::seconds kStartTimeout{60};

struct EjabberdOptions {
  std::vector<std::string> hosts{"example.test"};  // `hosts:`
  std::string component_jid{"rpsync.example.test"};
  std::string component_secret{"s3cret"};
  // mod_privilege: {roster: {get: RULE}, presence: {roster: RULE}} with RULE an access rule
  // allowing the component's server ACL (an ACL alone grants nothing; docs/ejabberd.md).
  bool grant_privileges = true;
  std::string loglevel{"info"};  // ejabberd `loglevel:` (none|emergency|...|info|debug)
  // mod_stream_mgmt resume_timeout: how long a dropped XEP-0198 session stays "available"
  // (hibernated) waiting for a resume. ejabberd's default is 300.
  int resume_timeout_s = 300;
  // mod_rpsync_gate (plugin/ejabberd): loaded when `gate_beam_dir` names the directory
  // holding mod_rpsync_gate.beam (copied into <tmp>/rpsync_gate/ebin, which is added to the
  // VM's code path with -pa); not loaded when empty (the default).
  // EjabberdServer::built_gate_dir() is the one this build produced.
  std::string gate_beam_dir;
  // The module's `components` option; nullopt: {component_jid}.
  std::optional<std::vector<std::string>> gate_components;
  bool roster_versioning = false;  // mod_roster: {versioning: true}
};

class EjabberdServer {
 public:
  // Path of the Erlang runtime (`erl`) when ejabberd is installed ($RPSYNC_ERL, else
  // /usr/bin/erl, and ejabberd's code dir found from $RPSYNC_EJABBERD_LIBS or the ERL_LIBS
  // line of /usr/sbin/ejabberdctl); nullopt when not installed.
  static std::optional<std::string> find_executable();
  // Directory of the mod_rpsync_gate.beam built by this build tree (build/ejabberd); empty
  // when the build could not compile it (no erlc or headers).
  static std::string built_gate_dir();

  // Creates the temp dir and config but does not launch. Null (with `why`) when ejabberd
  // is not installed.
  static std::unique_ptr<EjabberdServer> create(EjabberdOptions options, std::string* why);
  // create() + launch(); null with `why` when not installed or it did not come up.
  static std::unique_ptr<EjabberdServer> start(EjabberdOptions options, std::string* why);

  ~EjabberdServer();
  EjabberdServer(const EjabberdServer&) = delete;
  EjabberdServer& operator=(const EjabberdServer&) = delete;

  // Launches the VM on the already chosen ports and applies queued users/roster items;
  // false (see log()) if it did not listen within kStartTimeout or a queued command failed.
  bool launch();
  // Registers user@host. While running: applied now (false + log line on failure).
  bool add_user(const std::string& user, const std::string& host, const std::string& password);
  // subscription: "both", "to", "from" or "none" (as seen from owner_bare's roster).
  // Online sessions of the owner get a roster push.
  bool add_roster_item(const std::string& owner_bare, const std::string& contact_bare,
                       const std::string& subscription);

  // One admin command over mod_http_api: POST /api/<command> with a JSON object body.
  // Returns the response body on HTTP 200, nullopt otherwise (reason in `error`).
  // Only valid while running.
  std::optional<std::string> api(const std::string& command, const std::string& json_body,
                                 std::string* error = nullptr) const;

  uint16_t c2s_port() const { return c2s_port_; }
  uint16_t component_port() const { return component_port_; }
  uint16_t api_port() const { return api_port_; }
  const EjabberdOptions& options() const { return options_; }
  bool running() const { return child_.running(); }
  // The VM's pid, also the id of its own process group (erl_child_setup, inet_gethost);
  // -1 when not running.
  pid_t pid() const { return child_.pid(); }
  // Wall time of the last successful launch() (VM start to ports up and queue applied).
  double last_launch_seconds() const { return last_launch_seconds_; }

  void stop();              // SIGTERM (the VM runs init:stop), waits up to 8 s, then SIGKILL
  void kill();              // SIGKILL (a crash as the component sees it)
  bool restart();           // stop() + launch() on the same ports
  std::string log() const;  // ejabberd.log + the process's stdout/stderr
  // Whether log() contains `text` within `within`: ejabberd's logger writes its file
  // asynchronously, so a line may land after the stanza that caused it was delivered.
  bool log_shows(const std::string& text,
                 std::chrono::milliseconds within = std::chrono::seconds(5)) const;
  const std::string& dir() const { return dir_; }

 private:
  struct Pending {
    std::string command;
    std::string body;
  };
  EjabberdServer(EjabberdOptions options, std::string erl, std::string erl_libs);
  void write_config() const;
  bool run_or_queue(std::string command, std::string body);
  bool spawn_vm();
  bool wait_until_up(std::chrono::steady_clock::time_point started);

  EjabberdOptions options_;
  std::string erl_;
  std::string erl_libs_;
  std::string dir_;
  uint16_t c2s_port_ = 0;
  uint16_t component_port_ = 0;
  uint16_t api_port_ = 0;
  ChildProcess child_;
  double last_launch_seconds_ = 0;
  std::vector<Pending> pending_;
  std::string harness_log_;  // failures of admin commands, shown by log()
};

}  // namespace rpsync::test

// Starts ejabberd into `var` (a std::unique_ptr<EjabberdServer>) or skips the test with the
// reason when ejabberd is not installed (fails when it is installed but does not come up).
#define RPSYNC_START_EJABBERD_OR_SKIP(var, options)                                    \
  std::string var##_why;                                                               \
  auto var = ::rpsync::test::EjabberdServer::start((options), &var##_why);             \
  if (!var) {                                                                          \
    if (!::rpsync::test::EjabberdServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                               \
  }
