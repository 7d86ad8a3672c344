// SPDX-License-Identifier: MIT
// mod_rpsync_gate's counters on a real Prosody, scraped from Prosody's own /metrics
// (mod_http_openmetrics, statistics = "internal"): the component's versioned roster get
// of an enable is served by the gate, and a client's marked initial presence is counted
// together with the probe it skips.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/harness/util.h"
#include "tests/scenario/runtime_support.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

// Adds Prosody's statistics and its OpenMetrics endpoint on `http_port` to the harness config.
bool enable_openmetrics(ProsodyServer& server, std::uint16_t http_port, std::string* why) {
  const auto cfg = std::filesystem::path(server.dir()) / "prosody.cfg.lua";
  std::stringstream text;
  text << std::ifstream(cfg).rdbuf();
  std::string c = text.str();
  const std::string ports = "http_ports = { }";
  const std::string modules = "\"posix\" }";
  const auto p = c.find(ports), m = c.find(modules);
  if (p == std::string::npos || m == std::string::npos) {
    *why = "unexpected harness config:\n" + c;
    return false;
  }
  c.replace(m, modules.size(), "\"posix\"; \"http_openmetrics\" }");
  c.replace(c.find(ports), ports.size(),
            "http_ports = { " + std::to_string(http_port) +
                " }\nhttp_interfaces = { \"127.0.0.1\" }\nstatistics = \"internal\"\n"
                "statistics_interval = \"manual\"");
  std::ofstream(cfg, std::ios::trunc) << c;
  return true;
}

// prosody_mod_rpsync_gate__NAME_total{host="example.test"} in `text`, or -1.
double gate_counter(const std::string& text, const std::string& name) {
  return sample(text, "prosody_mod_rpsync_gate__" + name + "_total{host=\"example.test\"}")
      .value_or(-1);
}

TEST(GateMetrics, CountersVisibleOnProsodysOwnEndpoint) {
  std::string why;
  auto server = ProsodyServer::create({}, &why);
  if (!server) GTEST_SKIP() << why;
  for (const char* u : {"alice", "carol", "probe"}) server->add_user(u, "example.test", kPassword);
  server->add_roster_item("alice@example.test", "carol@example.test", Subscription::kBoth);
  server->add_roster_item("carol@example.test", "alice@example.test", Subscription::kBoth);
  const std::uint16_t http = free_port();
  ASSERT_TRUE(ServerTraits<ProsodyServer>::load_gate(*server, &why)) << why;
  ASSERT_TRUE(enable_openmetrics(*server, http, &why)) << why;
  ASSERT_TRUE(server->launch()) << server->log();
  char tmpl[] = "/tmp/rpsync-gate-metrics-XXXXXX";
  ASSERT_TRUE(::mkdtemp(tmpl));
  const std::string dir = tmpl;
  ComponentProcess component(dir, server->component_port(), {});
  ASSERT_TRUE(component.start(&why)) << why;
  ASSERT_TRUE(component_ready(server->c2s_port(), component, "rpsync.example.test", 15s, &why))
      << why;

  auto carol = comes_online(server->c2s_port(), "carol@example.test", "phone");
  auto alice = logs_in(server->c2s_port(), "alice@example.test", "phone");
  ASSERT_TRUE(carol && alice);
  ASSERT_TRUE(alice->sends_enable("rpsync.example.test", "e1").ok());
  alice->closes();
  auto again = logs_in(server->c2s_port(), "alice@example.test", "laptop");
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->raw().send_raw("<presence><synced xmlns='urn:xmpp:rpsync:0'/></presence>"));
  ASSERT_TRUE(again->settles());

  const std::string text = http_get(http, "/metrics");
  ASSERT_NE(text.find("HTTP/1.1 200"), std::string::npos) << text << server->log();
  EXPECT_EQ(gate_counter(text, "marked_presences"), 1) << text;
  EXPECT_EQ(gate_counter(text, "probes_skipped"), 1) << text;  // carol, alice's one contact
  // The enable's privileged roster get (the component's roster cache is on by default).
  EXPECT_EQ(gate_counter(text, "versioned_rosters_served"), 1) << text;
  EXPECT_EQ(server->log().find("unavailable: "), std::string::npos) << server->log();
  component.kill9();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace rpsync::test::scenario
