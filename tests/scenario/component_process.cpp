// SPDX-License-Identifier: MIT
#include "tests/scenario/component_process.h"

#include <signal.h>

#include <chrono>
#include <thread>

#include "tests/harness/util.h"

#ifndef RPSYNC_COMPONENT_BINARY
#error "RPSYNC_COMPONENT_BINARY must name the built rpsync-component"
#endif

namespace rpsync::test::scenario {

ComponentProcess::ComponentProcess(std::string dir, std::uint16_t port, ComponentSpec spec)
    : dir_(std::move(dir)),
      port_(port),
      spec_(std::move(spec)),
      store_path_(dir_ + "/rpsync.db"),
      log_path_(dir_ + "/component.log") {}

ComponentProcess::~ComponentProcess() {
  kill9();
}

bool ComponentProcess::start(std::string* why) {
  ChildSpec child{.argv = {spec_.binary.empty() ? RPSYNC_COMPONENT_BINARY : spec_.binary, "--host",
                           "127.0.0.1", "--port", std::to_string(port_), "--component",
                           spec_.component_jid, "--store", "sqlite:" + store_path_, "--secret-env",
                           "RPSYNC_SECRET", "--stats-interval", "0", "--log-level", "debug"},
                  .env = {"RPSYNC_SECRET=" + spec_.secret},
                  .log_path = log_path_};
  for (const auto& d : spec_.domains) child.argv.insert(child.argv.end(), {"--domain", d});
  child.argv.insert(child.argv.end(), spec_.extra_args.begin(), spec_.extra_args.end());
  child.env.insert(child.env.end(), spec_.env.begin(), spec_.env.end());
  if (Status spawned = child_.spawn(child); !spawned.ok()) {
    if (why) *why = spawned.message();
    return false;
  }
  // A configuration or store error exits within milliseconds.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (!alive()) {
    if (why) *why = "rpsync-component exited at start:\n" + log();
    return false;
  }
  return true;
}

int ComponentProcess::terminate() {
  if (!child_.running()) return -1;
  child_.signal(SIGTERM);
  if (auto exit = child_.wait_for(std::chrono::milliseconds(5000))) return exit->code;
  kill9();
  return -1;
}

void ComponentProcess::kill9() {
  child_.kill();
}

bool ComponentProcess::alive() {
  return child_.alive();
}

std::string ComponentProcess::log() const {
  return util::read_file(log_path_);
}

}  // namespace rpsync::test::scenario
