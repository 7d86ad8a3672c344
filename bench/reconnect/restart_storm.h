// SPDX-License-Identifier: MIT
// --restart of rpsync_reconnect_bench's storm: before every rpsync storm the component is
// stopped (SIGTERM, or SIGKILL as a crash) and started again on the same store, as in an
// upgrade at night, while contacts change: a tenth of them before the stop, another tenth
// while the component is down. The storm then shows how many of the users holding keys
// from before the restart get a delta (synced) and how many a full login (fell_back).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/test_client.h"
#include "tests/scenario/component_process.h"

namespace rpsync::bench {

struct RestartSetup {
  test::scenario::ComponentProcess* component = nullptr;
  std::vector<std::unique_ptr<test::TestClient>>* contacts = nullptr;  // online, c000..
  std::string component_jid;
  std::string host;   // the contacts' server, for pings
  bool kill = false;  // SIGKILL instead of SIGTERM
  // A tenth of the contacts change before the stop (after the users' keys were taken);
  // false: only while the component is down.
  bool change_before = true;
  std::chrono::milliseconds ready_timeout{60000};
};

// The hook for StormSetup::before_rpsync: changes, stop, changes, start, then waits until the
// component answers requests again (its error to a probe is no longer not-ready); returns
// the new pid. Exits the bench (die) when the component does not come back in time.
std::function<pid_t()> component_restarter(RestartSetup setup);

}  // namespace rpsync::bench
