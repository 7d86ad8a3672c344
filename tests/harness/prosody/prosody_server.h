// SPDX-License-Identifier: MIT
// A real Prosody 0.12 started for one test on loopback, with its own config, data
// directory and ports (the configuration in examples/prosody/rpsync.cfg.lua).
//
// Contract: start() writes <tmp>/prosody.cfg.lua, launches `prosody --config FILE -F` as a
// child process and returns once the c2s and component ports accept connections (at most
// 15 s). Users and rosters are Prosody internal-storage files written by add_user() /
// add_roster_item(); Prosody reads them on demand, but rosters of online users are cached,
// so write them before start() or call restart() afterwards. The child is killed when the
// ProsodyServer is destroyed (and by the kernel if the test process dies).
// Not thread-safe: use from the test's thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/harness/child_process.h"
#include "tests/harness/util.h"

namespace rpsync::test {

struct ProsodyOptions {
  std::vector<std::string> hosts{"example.test"};  // VirtualHosts
  std::string component_jid{"rpsync.example.test"};
  std::string component_secret{"s3cret"};
  bool grant_privileges = true;  // privileged_entities = { roster = "get"; presence = "roster" }
};

struct Subscription {
  static constexpr const char* kBoth = "both";
  static constexpr const char* kTo = "to";
  static constexpr const char* kFrom = "from";
  static constexpr const char* kNone = "none";
};

class ProsodyServer {
 public:
  // Path of the prosody executable ($RPSYNC_PROSODY or `prosody` on PATH), nullopt if
  // not installed.
  static std::optional<std::string> find_executable();

  // Creates the temp dir and config but does not launch; call launch() after adding users.
  // Returns null (with `why` filled) when prosody is not installed.
  static std::unique_ptr<ProsodyServer> create(ProsodyOptions options, std::string* why);
  // create() + launch(); null with `why` when not installed or it did not come up.
  static std::unique_ptr<ProsodyServer> start(ProsodyOptions options, std::string* why);

  ~ProsodyServer();
  ProsodyServer(const ProsodyServer&) = delete;
  ProsodyServer& operator=(const ProsodyServer&) = delete;

  // Launches the process on the already chosen ports; false (see log()) if it did not
  // listen within 15 s.
  bool launch();
  void add_user(const std::string& user, const std::string& host, const std::string& password);
  // subscription: "both", "to", "from" or "none" (as seen from owner_bare's roster).
  void add_roster_item(const std::string& owner_bare, const std::string& contact_bare,
                       const std::string& subscription);
  // Many new items at once (one file write; add_roster_item rewrites the file per item).
  void add_roster_items(const std::string& owner_bare, const std::vector<std::string>& contacts,
                        const std::string& subscription);

  uint16_t c2s_port() const { return c2s_port_; }
  uint16_t component_port() const { return component_port_; }
  const ProsodyOptions& options() const { return options_; }
  bool running() const { return child_.running(); }
  // The server process (-1 when none runs), e.g. to read its CPU time from /proc.
  pid_t pid() const { return child_.pid(); }

  void stop();              // SIGTERM, waits up to 5 s, then SIGKILL
  void kill();              // SIGKILL (a crash as the component sees it)
  bool restart();           // stop() + launch() on the same ports
  std::string log() const;  // prosody.log + the process's stdout/stderr
  const std::string& dir() const { return dir_; }

 private:
  void write_roster(const std::string& owner_bare);
  ProsodyServer(ProsodyOptions options, std::string executable);
  void write_config() const;

  ProsodyOptions options_;
  std::string executable_;
  std::string dir_;
  uint16_t c2s_port_ = 0;
  uint16_t component_port_ = 0;
  ChildProcess child_;
  // owner bare JID -> (contact bare JID, subscription), rewritten as one file per owner
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> rosters_;
};

// Host part escaping of Prosody's datamanager ('.' -> "%2e", as in data/example%2etest).
std::string prosody_escape(const std::string& s);

}  // namespace rpsync::test

// Starts Prosody into `var` (a std::unique_ptr<ProsodyServer>) or skips the test with the reason.
#define RPSYNC_START_PROSODY_OR_SKIP(var, options)                                    \
  std::string var##_why;                                                              \
  auto var = ::rpsync::test::ProsodyServer::start((options), &var##_why);             \
  if (!var) {                                                                         \
    if (!::rpsync::test::ProsodyServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                              \
  }
