// SPDX-License-Identifier: MIT
// Pure parts of the component's runtime behaviour: the metrics listen address (loopback
// only), the OpenMetrics text, what a reload applies live, server detection from
// disco#info, and --check's store verdicts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plugin/app/config.h"
#include "plugin/app/reload.h"
#include "plugin/app/store_check.h"
#include "plugin/metrics/listen.h"
#include "plugin/metrics/render.h"
#include "plugin/xmpp/server_info.h"
#include "protocol/xml.h"

namespace rpsync::app {
namespace {

std::variant<Invocation, ConfigError> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "rpsync-component");
  for (const char* a : {"--component", "rpsync.example.test", "--domain", "example.test",
                        "--secret-env", "S"})
    args.emplace_back(a);
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(),
                            [](const char*) -> std::optional<std::string> { return "x"; });
}

TEST(MetricsListen, LoopbackAddressesAreAccepted) {
  for (const char* ok : {"127.0.0.1:9577", "127.1.2.3:1", "[::1]:9577"}) {
    auto r = metrics::parse_listen(ok);
    ASSERT_TRUE(std::holds_alternative<metrics::ListenAddress>(r)) << ok;
  }
  auto v6 = std::get<metrics::ListenAddress>(metrics::parse_listen("[::1]:9577"));
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.ip, "::1");
  EXPECT_EQ(v6.port, 9577);
}

TEST(MetricsListen, EverythingElseIsRefusedWithTheReason) {
  for (const char* bad : {"0.0.0.0:9577", "192.168.1.1:1", "[::]:9577", "[::ffff:127.0.0.1]:1",
                          "localhost:9577", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000",
                          "10.0.0.1:x"}) {
    auto r = metrics::parse_listen(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(r)) << bad;
  }
  EXPECT_NE(std::get<std::string>(metrics::parse_listen("0.0.0.0:9577")).find("loopback"),
            std::string::npos);
}

TEST(MetricsConfig, NonLoopbackListenIsAConfigError) {
  for (const char* bad : {"0.0.0.0:9577", "192.168.1.1:1"}) {
    AppConfig c;
    std::string file, env;
    auto e = apply_toml(std::string("[metrics]\nlisten = \"") + bad + "\"\n", "test.toml", c,
                        file, env);
    ASSERT_TRUE(e) << bad;
    EXPECT_NE(e->message.find("metrics.listen"), std::string::npos) << e->message;
    EXPECT_NE(e->message.find("loopback"), std::string::npos) << e->message;
    auto flag = parse({"--metrics-listen", bad});
    EXPECT_TRUE(std::holds_alternative<ConfigError>(flag)) << bad;
  }
  AppConfig c;
  std::string file, env;
  EXPECT_FALSE(apply_toml("[metrics]\nlisten = \"127.0.0.1:9577\"\n", "t", c, file, env));
  EXPECT_EQ(c.metrics_listen, "127.0.0.1:9577");
  EXPECT_TRUE(AppConfig{}.metrics_listen.empty());  // off by default
}

TEST(MetricsRender, EveryFamilyWithHelpTypeAndTheClosingEof) {
  metrics::Snapshot s;
  s.ready = s.connected = s.privileged = true;
  s.gate_feature = 0;
  s.syncs_delta = 3;
  s.syncs_empty = 2;
  s.sync_errors["continuity-lost"] = 4;
  s.sync_bytes_sent = 1234;
  s.full_login_bytes_estimated = 98765;
  s.rejected["requests_per_minute"] = 7;
  s.store_commit.observe(0.0002);
  s.store_commit.observe(0.003);
  s.store_commit.observe(7.0);
  s.loop_lag_max_seconds = 0.25;
  const std::string t = metrics::render(s, 12.5);
  for (const char* line :
       {"rpsync_ready 1\n", "rpsync_connected 1\n", "rpsync_privileged 1\n",
        "rpsync_server_gate_feature 0\n", "rpsync_uptime_seconds 12.5\n",
        "rpsync_syncs_total{outcome=\"delta\"} 3\n", "rpsync_syncs_total{outcome=\"empty\"} 2\n",
        "rpsync_syncs_total{outcome=\"error\",condition=\"continuity-lost\"} 4\n",
        "rpsync_sync_bytes_sent_total 1234\n",
        "rpsync_sync_full_login_bytes_estimated_total 98765\n",
        "rpsync_requests_rejected_total{limit=\"requests_per_minute\"} 7\n",
        "# TYPE rpsync_store_commit_seconds histogram\n",
        "rpsync_store_commit_seconds_bucket{le=\"0.0005\"} 1\n",
        "rpsync_store_commit_seconds_bucket{le=\"0.005\"} 2\n",
        "rpsync_store_commit_seconds_bucket{le=\"1\"} 2\n",
        "rpsync_store_commit_seconds_bucket{le=\"+Inf\"} 3\n",
        "rpsync_store_commit_seconds_count 3\n", "# TYPE rpsync_syncs counter\n",
        "# TYPE rpsync_loop_lag_max_seconds gauge\n", "rpsync_loop_lag_max_seconds 0.25\n"})
    EXPECT_NE(t.find(line), std::string::npos) << line << "\nin\n" << t;
  EXPECT_TRUE(t.ends_with("# EOF\n"));
}

TEST(Reload, LiveSettingsApplyAndTheOthersAreNamed) {
  AppConfig running;
  AppConfig loaded = running;
  loaded.log_level = log::Level::kDebug;
  loaded.requests_per_minute = 5;
  loaded.lifetime_s = 60;
  loaded.store = "sqlite:/elsewhere.db";
  const ReloadPlan plan = plan_reload(running, loaded);
  EXPECT_EQ(joined(plan.live), "log.level,limits.requests_per_minute");
  EXPECT_EQ(joined(plan.restart), "store.uri,sessions.lifetime");
  const AppConfig now = with_live_settings(running, loaded);
  EXPECT_EQ(now.requests_per_minute, 5u);
  EXPECT_EQ(now.log_level, log::Level::kDebug);
  EXPECT_EQ(now.lifetime_s, running.lifetime_s);
  EXPECT_EQ(now.store, running.store);
  EXPECT_EQ(joined(plan_reload(running, running).restart), "-");
}

xml::Element disco(const std::string& identity_name, bool gate) {
  xml::Element iq("iq", "jabber:component:accept");
  iq.set_attr("type", "result");
  auto& q = iq.add(xml::Element("query", "http://jabber.org/protocol/disco#info"));
  xml::Element id("identity", "http://jabber.org/protocol/disco#info");
  id.set_attr("category", "server");
  id.set_attr("type", "im");
  id.set_attr("name", identity_name);
  q.add(std::move(id));
  if (gate) {
    xml::Element f("feature", "http://jabber.org/protocol/disco#info");
    f.set_attr("var", std::string(xmpp::kGateFeature));
    q.add(std::move(f));
  }
  return iq;
}

TEST(ServerInfo, GateFeatureAndSoftwareFromDisco) {
  auto with_gate = xmpp::parse_disco_info(disco("Prosody", true));
  EXPECT_TRUE(with_gate.has(xmpp::kGateFeature));
  EXPECT_EQ(xmpp::detect_software(with_gate, "urn:xmpp:privilege:1"), xmpp::Software::kProsody);
  auto ej = xmpp::parse_disco_info(disco("ejabberd", false));
  EXPECT_FALSE(ej.has(xmpp::kGateFeature));
  EXPECT_EQ(xmpp::detect_software(ej, "urn:xmpp:privilege:2"), xmpp::Software::kEjabberd);
  // No identity name: the privilege namespace decides.
  xmpp::DiscoInfo none;
  EXPECT_EQ(xmpp::detect_software(none, "urn:xmpp:privilege:1"), xmpp::Software::kEjabberd);
  EXPECT_EQ(xmpp::detect_software(none, "urn:xmpp:privilege:2"), xmpp::Software::kProsody);
  EXPECT_EQ(xmpp::detect_software(none, ""), xmpp::Software::kUnknown);
}

TEST(StoreCheck, SqliteNeedsAnExistingDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "rpsync-store-check";
  std::filesystem::create_directories(dir);
  EXPECT_FALSE(check_store("sqlite:" + (dir / "new.db").string()));
  EXPECT_FALSE(check_store("memory:"));
  auto missing = check_store("sqlite:" + (dir / "no-such-dir" / "x.db").string());
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("does not exist"), std::string::npos) << *missing;
  auto is_dir = check_store("sqlite:" + dir.string());
  ASSERT_TRUE(is_dir);
  EXPECT_NE(is_dir->find("not a regular file"), std::string::npos) << *is_dir;
  std::filesystem::remove_all(dir);
}

TEST(StoreCheck, UnreachableRedisIsNamedWithoutItsPassword) {
  auto r = check_store("redis://127.0.0.1:1/0?password=hunter2&timeout_ms=500");
  ASSERT_TRUE(r);
  EXPECT_NE(r->find("127.0.0.1:1"), std::string::npos) << *r;
  EXPECT_EQ(r->find("hunter2"), std::string::npos) << *r;
}

}  // namespace
}  // namespace rpsync::app
