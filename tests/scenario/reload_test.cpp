// SPDX-License-Identifier: MIT
// SIGHUP to the real rpsync-component on a real Prosody: the process keeps running, logs
// config.reloaded, applies the new request rate at once (a user over it is refused), names
// a changed setting that needs a restart, and still answers. A config file that no longer
// parses is refused (config.reload_failed) and the running settings stay in force.
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "tests/scenario/runtime_support.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

bool log_shows(ComponentProcess& c, const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (c.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// How many of `n` disables of a never enabled stream were refused as rate-limited.
int rate_limited_of(Party& who, const std::string& component, int n, const std::string& tag) {
  int limited = 0;
  for (int i = 0; i < n; ++i) {
    Answer a = who.sends_iq(component, "set", proto::to_xml(proto::Disable{"never"}),
                            tag + std::to_string(i));
    EXPECT_TRUE(a.arrived) << tag << i;
    if (a.app() == proto::AppCondition::kRateLimited) ++limited;
  }
  return limited;
}

class Reload : public Scenario<ProsodyServer> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rpsync-reload-XXXXXX";
    ASSERT_TRUE(::mkdtemp(tmpl));
    dir_ = tmpl;
    config_ = dir_ + "/rpsync.toml";
    write("[limits]\nrequests_per_minute = 30\n");
  }
  void TearDown() override {
    world.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void write(const std::string& text) { std::ofstream(config_, std::ios::trunc) << text; }
  void hup() { ASSERT_EQ(::kill(world->component().pid(), SIGHUP), 0); }

  std::string dir_, config_;
};

TEST_F(Reload, SighupAppliesTheNewRateAndKeepsRunning) {
  WorldSpec spec = user_with_contacts("alice@example.test", {"carol@example.test"});
  spec.component.extra_args = {"--config", config_};
  RPSYNC_SCENARIO_START(spec);
  ComponentProcess& c = world->component();
  auto alice = logs_in("alice@example.test", "phone");
  ASSERT_TRUE(alice);
  EXPECT_EQ(rate_limited_of(*alice, component(), 3, "before-"), 0);

  write("[limits]\nrequests_per_minute = 3\n[sessions]\nlifetime = 120\n");
  hup();
  ASSERT_TRUE(log_shows(c, "config.reloaded", 5s)) << c.log();
  EXPECT_TRUE(c.alive());
  EXPECT_EQ(log_field(c.log(), "config.reloaded", "applied"), "limits.requests_per_minute");
  EXPECT_EQ(log_field(c.log(), "config.restart_needed", "settings"), "sessions.lifetime");
  // alice already made 3 requests this minute: the new limit of 3 refuses the next ones.
  EXPECT_EQ(rate_limited_of(*alice, component(), 2, "after-"), 2);

  std::string why;
  EXPECT_TRUE(world->component_ready(5s, &why)) << why;  // still connected and answering
}

TEST_F(Reload, AnInvalidConfigIsRefusedAndTheRunningOneKept) {
  WorldSpec spec = user_with_contacts("alice@example.test", {"carol@example.test"});
  spec.component.extra_args = {"--config", config_};
  RPSYNC_SCENARIO_START(spec);
  ComponentProcess& c = world->component();
  write("[limits]\nrequests_per_minute = 3\n");
  hup();
  ASSERT_TRUE(log_shows(c, "config.reloaded", 5s)) << c.log();

  write("[limits]\nrequests_per_minute = \"many\"\n");
  hup();
  ASSERT_TRUE(log_shows(c, "config.reload_failed", 5s)) << c.log();
  EXPECT_NE(c.log().find("limits.requests_per_minute"), std::string::npos);
  EXPECT_TRUE(c.alive());
  // Still 3 per minute, not the default 30: the fourth request of a fresh user is refused.
  auto alice = logs_in("alice@example.test", "phone");
  ASSERT_TRUE(alice);
  EXPECT_EQ(rate_limited_of(*alice, component(), 4, "kept-"), 1);
  EXPECT_TRUE(c.alive());
}

}  // namespace
}  // namespace rpsync::test::scenario
