// SPDX-License-Identifier: MIT
// The metrics endpoint of the real rpsync-component on a real Prosody, scraped over HTTP
// during a scenario (alice enables, carol changes, alice syncs): the counters move by
// exactly what the scenario did (one delta sync, its bytes as the component logged them,
// one request over max_stanza_bytes), the gauges say ready/connected/privileged, and
// rpsync_server_gate_feature says whether mod_rpsync_gate runs (with server.gate_missing
// logged when it does not).
#include "tests/harness/util.h"
#include "tests/scenario/runtime_support.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using namespace std::chrono_literals;

class Metrics : public Scenario<ProsodyServer> {
 protected:
  WorldSpec spec(bool gate) {
    port_ = free_port();
    WorldSpec s = user_with_contacts("alice@example.test", {"carol@example.test"});
    s.rpsync_gate = gate;
    s.component.extra_args = {"--metrics-listen", "127.0.0.1:" + std::to_string(port_),
                              "--max-stanza-bytes", "1024"};
    return s;
  }
  std::string scrape() { return http_get(port_, "/metrics"); }
  double value(const std::string& series) {
    auto v = sample(scrape(), series);
    EXPECT_TRUE(v) << series << " missing in\n" << scrape();
    return v.value_or(-1);
  }
  // The loop publishes a snapshot every 250 ms: waits (bounded) until `series` == want.
  double settled(const std::string& series, double want) {
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    double v = value(series);
    while (v != want && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      v = value(series);
    }
    return v;
  }
  std::uint16_t port_ = 0;
};

TEST_F(Metrics, CountersMoveByWhatTheScenarioDid) {
  RPSYNC_SCENARIO_START(spec(false));
  const std::string first = scrape();
  ASSERT_NE(first.find("HTTP/1.1 200"), std::string::npos) << first;
  EXPECT_NE(first.find("application/openmetrics-text"), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with("# EOF\n")) << first;
  EXPECT_NE(http_get(port_, "/other").find("HTTP/1.1 404"), std::string::npos);
  EXPECT_EQ(settled("rpsync_ready", 1), 1);
  EXPECT_EQ(value("rpsync_connected"), 1);
  EXPECT_EQ(value("rpsync_privileged"), 1);
  EXPECT_GT(value("rpsync_uptime_seconds"), 0);
  EXPECT_EQ(settled("rpsync_server_gate_feature", 0), 0);
  EXPECT_NE(world->component().log().find("server.gate_missing"), std::string::npos);
  EXPECT_EQ(value("rpsync_syncs_total{outcome=\"delta\"}"), 0);
  EXPECT_EQ(value("rpsync_sync_bytes_sent_total"), 0);

  auto carol = comes_online("carol@example.test", "phone");
  auto a = logs_in("alice@example.test", "phone");
  ASSERT_TRUE(carol && a);
  ASSERT_TRUE(flood_of(*a).complete);
  ASSERT_TRUE(a->sends_enable(component(), "e1").ok());
  const proto::SyncKey key = a->key("e1");
  a->closes();
  const double ingested = value("rpsync_presence_ingested_total");
  ASSERT_TRUE(carol->sends_presence(shows(proto::Show::kAway, "lunch")));
  ASSERT_TRUE(carol->settles());
  auto b = logs_in("alice@example.test", "phone");
  ASSERT_TRUE(b);
  Answer answer = b->sends_sync(component(), "s1", key);
  ASSERT_TRUE(answer.ok()) << answer.describe();

  EXPECT_EQ(settled("rpsync_syncs_total{outcome=\"delta\"}", 1), 1);
  EXPECT_EQ(value("rpsync_syncs_total{outcome=\"empty\"}"), 0);
  const std::string log = world->component().log();
  EXPECT_EQ(value("rpsync_sync_bytes_sent_total"), std::stod(log_field(log, "sync.delta", "bytes")));
  EXPECT_EQ(value("rpsync_sync_full_login_bytes_estimated_total"),
            std::stod(log_field(log, "sync.delta", "full_bytes_estimate")));
  EXPECT_GE(value("rpsync_presence_ingested_total"), ingested + 1);
  EXPECT_GT(value("rpsync_store_commit_seconds_count"), 0);
  // The loop's lag probe runs (it is late by a little at least) and the loop is not stuck.
  EXPECT_GE(value("rpsync_loop_lag_max_seconds"), 0);
  EXPECT_LT(value("rpsync_loop_lag_max_seconds"), 5);

  // One request over --max-stanza-bytes 1024.
  EXPECT_EQ(value("rpsync_requests_rejected_total{limit=\"max_stanza_bytes\"}"), 0);
  Answer big = b->sends_iq(component(), "set",
                           proto::to_xml(proto::Disable{std::string(2000, 'x')}), "big");
  EXPECT_EQ(big.app(), proto::AppCondition::kStanzaTooBig) << big.describe();
  EXPECT_EQ(settled("rpsync_requests_rejected_total{limit=\"max_stanza_bytes\"}", 1), 1);
  EXPECT_EQ(value("rpsync_requests_rejected_total{limit=\"requests_per_minute\"}"), 0);
  EXPECT_EQ(value("rpsync_requests_rejected_total{limit=\"max_requests_in_flight\"}"), 0);
}

TEST_F(Metrics, GateFeatureSeenWhenTheServerRunsTheGate) {
  RPSYNC_SCENARIO_START(spec(true));
  EXPECT_EQ(settled("rpsync_server_gate_feature", 1), 1);
  const std::string log = world->component().log();
  EXPECT_EQ(log.find("server.gate_missing"), std::string::npos) << log;
  EXPECT_NE(log.find("server.gate_present"), std::string::npos) << log;
  EXPECT_EQ(log_field(log, "server.detected", "software"), "prosody");
}

}  // namespace
}  // namespace rpsync::test::scenario
