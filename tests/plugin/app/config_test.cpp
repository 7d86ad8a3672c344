// SPDX-License-Identifier: MIT
#include "plugin/app/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <vector>

namespace rpsync::app {
namespace {

std::map<std::string, std::string> g_env;
std::optional<std::string> fake_getenv(const char* name) {
  auto it = g_env.find(name);
  if (it == g_env.end()) return std::nullopt;
  return it->second;
}

std::filesystem::path temp_file(const std::string& name, const std::string& content) {
  auto p = std::filesystem::temp_directory_path() /
           ("rpsync-config-test-" + std::to_string(::getpid()) + "-" + name);
  std::ofstream(p) << content;
  return p;
}

std::variant<Invocation, ConfigError> run(std::vector<std::string> args) {
  std::vector<const char*> argv{"rpsync-component"};
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), fake_getenv);
}

std::string error_of(const std::variant<Invocation, ConfigError>& r) {
  if (auto* e = std::get_if<ConfigError>(&r)) return e->message;
  return "";
}

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { g_env.clear(); }
};

TEST_F(ConfigTest, TheShippedSampleConfigIsValid) {
  auto secret = temp_file("secret", "s3cret\n");
  auto r = run({"--config", RPSYNC_SAMPLE_CONFIG, "--secret-file", secret.string(), "--check"});
  ASSERT_EQ(error_of(r), "");
  const auto& inv = std::get<Invocation>(r);
  EXPECT_EQ(inv.action, Invocation::Action::kCheck);
  EXPECT_EQ(inv.config.component, "rpsync.example.test");
  EXPECT_EQ(inv.config.domains, std::vector<std::string>{"example.test"});
  EXPECT_EQ(inv.config.secret, "s3cret") << "trailing newline of the secret file is dropped";
  EXPECT_EQ(inv.config.lifetime_s, 604800u);
  EXPECT_EQ(inv.config.store, "sqlite:/var/lib/rpsync/rpsync.db");
}

TEST_F(ConfigTest, FlagsOverrideTheFileAndReplaceItsDomainList) {
  auto cfg = temp_file("a.toml",
                       "[server]\ncomponent='c.example'\ndomains=['a.example','b.example']\n"
                       "secret='x'\n[log]\nlevel='warn'\n");
  auto r = run({"--config", cfg.string(), "--domain", "z.example", "--domain=y.example", "--port",
                "6000", "--log-level", "debug", "--store", "memory:"});
  ASSERT_EQ(error_of(r), "");
  const auto& c = std::get<Invocation>(r).config;
  EXPECT_EQ(c.domains, (std::vector<std::string>{"z.example", "y.example"}));
  EXPECT_EQ(c.port, 6000);
  EXPECT_EQ(c.log_level, log::Level::kDebug);
  EXPECT_EQ(c.store, "memory:");
  EXPECT_EQ(c.secret, "x");
}

TEST_F(ConfigTest, SecretNeverFromTheCommandLine) {
  auto r = run({"--component", "c", "--domain", "d", "--secret", "hunter2"});
  EXPECT_NE(error_of(r).find("--secret-file"), std::string::npos);
  r = run({"--component", "c", "--domain", "d", "--secret=hunter2"});
  EXPECT_NE(error_of(r), "");
}

TEST_F(ConfigTest, SecretFromEnvironment) {
  EXPECT_NE(error_of(run({"--component", "c", "--domain", "d"})).find("secret"), std::string::npos);
  g_env["RPSYNC_SECRET"] = "from-env";
  auto r = run({"--component", "c", "--domain", "d"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).config.secret, "from-env");
  g_env["OTHER"] = "named";
  r = run({"--component", "c", "--domain", "d", "--secret-env", "OTHER"});
  EXPECT_EQ(std::get<Invocation>(r).config.secret, "named");
  EXPECT_NE(error_of(run({"--component", "c", "--domain", "d", "--secret-env", "MISSING"})), "");
}

TEST_F(ConfigTest, ClearErrorsNameTheKey) {
  g_env["RPSYNC_SECRET"] = "s";
  auto cfg = temp_file("bad.toml", "[server]\ncomponent='c'\ndomains=['d']\nprot=5347\n");
  EXPECT_NE(error_of(run({"--config", cfg.string()})).find("server.prot"), std::string::npos);
  cfg = temp_file("bad2.toml", "[server]\ncomponent='c'\ndomains=['d']\nport=99999\n");
  EXPECT_NE(error_of(run({"--config", cfg.string()})).find("server.port"), std::string::npos);
  cfg = temp_file("bad3.toml", "[server\ncomponent='c'\n");
  EXPECT_NE(error_of(run({"--config", cfg.string()})).find("bad3.toml:1"), std::string::npos);
  cfg = temp_file("bad4.toml", "[log]\nlevel='loud'\n");
  EXPECT_NE(error_of(run({"--config", cfg.string()})).find("log.level"), std::string::npos);
  EXPECT_NE(error_of(run({"--config", "/nonexistent/x.toml"})).find("cannot read"),
            std::string::npos);
  EXPECT_NE(error_of(run({"--frobnicate"})).find("--frobnicate"), std::string::npos);
  EXPECT_NE(error_of(run({"--port"})).find("needs a value"), std::string::npos);
  EXPECT_NE(error_of(run({"--domain", "d", "--port", "12x"})).find("whole number"),
            std::string::npos);
  EXPECT_NE(error_of(run({"--domain", "d"})).find("component"), std::string::npos);
  EXPECT_NE(error_of(run({"--component", "c", "--domain", "user@d"})).find("domain"),
            std::string::npos);
}

TEST_F(ConfigTest, StoreWorkerQueueAndTimeoutFromFileAndFlags) {
  g_env["RPSYNC_SECRET"] = "s";
  auto r = run({"--component", "c", "--domain", "d"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).config.store_queue, 256u);
  EXPECT_EQ(std::get<Invocation>(r).config.store_timeout_ms, 5000u);
  auto cfg = temp_file("store.toml",
                       "[server]\ncomponent='c'\ndomains=['d']\n[store]\nqueue=0\n"
                       "timeout_ms=750\n");
  r = run({"--config", cfg.string()});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).config.store_queue, 0u) << "0 = inline";
  EXPECT_EQ(std::get<Invocation>(r).config.store_timeout_ms, 750u);
  r = run({"--config", cfg.string(), "--store-queue", "64", "--store-timeout-ms", "2000"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).config.store_queue, 64u);
  EXPECT_EQ(std::get<Invocation>(r).config.store_timeout_ms, 2000u);
  EXPECT_NE(error_of(run({"--component", "c", "--domain", "d", "--store-timeout-ms", "10"}))
                .find("store.timeout_ms"),
            std::string::npos);
}

// The sample's commented [feed] block, turned on as an operator would: uncomment its keys
// and switch the store to the commented redis:// line.
TEST_F(ConfigTest, TheSampleFeedSectionParsesWhenUncommented) {
  std::ifstream in(RPSYNC_SAMPLE_CONFIG);
  std::string text, line;
  bool in_feed = false;
  int uncommented = 0;
  while (std::getline(in, line)) {
    if (line.rfind("[", 0) == 0) in_feed = line == "[feed]";
    if (line.rfind("uri = \"sqlite:", 0) == 0) continue;
    if (line.rfind("# uri = \"redis://", 0) == 0) line = line.substr(2);
    if (in_feed && line.size() > 2 && line.rfind("# ", 0) == 0 && line[2] != ' ' &&
        line.find(" = ") != std::string::npos) {
      line = line.substr(2);
      ++uncommented;
    }
    text += line + "\n";
  }
  EXPECT_EQ(uncommented, 5) << "every [feed] key of the sample is exercised";
  auto cfg = temp_file("feed.toml", text);
  auto secret = temp_file("secret", "s3cret\n");
  auto r = run({"--config", cfg.string(), "--secret-file", secret.string(), "--check"});
  ASSERT_EQ(error_of(r), "") << text;
  const auto& c = std::get<Invocation>(r).config;
  EXPECT_TRUE(c.feed());
  EXPECT_EQ(c.instance_id, "rpsync-1");
  EXPECT_EQ(c.observer_group, "xmpp1");
  EXPECT_EQ(c.retention_entries, 1000000u);
  EXPECT_EQ(c.retention_ms, 0u);
  EXPECT_EQ(c.heartbeat_ttl_ms, 15000u);
  EXPECT_EQ(c.store.rfind("redis://127.0.0.1:6379/0", 0), 0u);
}

TEST_F(ConfigTest, FeedNeedsRedisAndAnInstanceId) {
  const std::vector<std::string> base{"--component", "c", "--domain", "d"};
  g_env["RPSYNC_SECRET"] = "x";
  auto with = [&](std::vector<std::string> more) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    return run(args);
  };
  // On sqlite (the default) the feed makes no sense: several instances cannot share it.
  EXPECT_NE(error_of(with({"--instance-id", "a"})).find("redis://"), std::string::npos);
  EXPECT_NE(error_of(with({"--store", "memory:", "--instance-id", "a"})).find("redis://"),
            std::string::npos);
  // A feed key without the id is named in the error.
  auto e = error_of(with({"--store", "redis://127.0.0.1:6379", "--heartbeat-ttl-ms", "5000"}));
  EXPECT_NE(e.find("heartbeat_ttl_ms"), std::string::npos) << e;
  EXPECT_NE(e.find("instance_id"), std::string::npos) << e;
  EXPECT_NE(error_of(with({"--store", "redis://h:1", "--instance-id", "a b"})).find("A-Z"),
            std::string::npos);
  EXPECT_NE(error_of(with({"--store", "redis://h:1", "--instance-id", std::string(65, 'a')}))
                .find("instance_id"),
            std::string::npos);
  EXPECT_NE(
      error_of(with({"--store", "redis://h:1", "--instance-id", "a", "--heartbeat-ttl-ms", "10"}))
          .find("heartbeat_ttl_ms"),
      std::string::npos);
  // Redis without the feed stays a single instance's store.
  auto r = with({"--store", "redis://h:1"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_FALSE(std::get<Invocation>(r).config.feed());
  // The observer group defaults to the server host.
  r = with({"--store", "redis://h:1", "--instance-id", "i-1", "--host", "xmpp.local",
            "--feed-retention-entries", "0", "--feed-retention-ms", "60000"});
  ASSERT_EQ(error_of(r), "");
  const auto& c = std::get<Invocation>(r).config;
  EXPECT_EQ(c.observer_group, "xmpp.local");
  EXPECT_EQ(c.retention_entries, 0u);
  EXPECT_EQ(c.retention_ms, 60000u);
  auto f = temp_file("feed-bad.toml", "[feed]\nretention_ms = -1\n");
  EXPECT_NE(error_of(run({"--config", f.string()})).find("feed.retention_ms"), std::string::npos);
  f = temp_file("feed-noid.toml", "[store]\nuri='redis://h:1'\n[feed]\nobserver_group='g'\n");
  e = error_of(with({"--config", f.string()}));
  EXPECT_NE(e.find("feed-noid.toml: 'feed.observer_group'"), std::string::npos) << e;
}

TEST_F(ConfigTest, AdminCommandsNeedTheFeedButNoServer) {
  auto r = run(
      {"--store", "redis://h:1", "--instance-id", "admin", "--purge-user", "alice@example.test"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).action, Invocation::Action::kPurgeUser);
  EXPECT_EQ(std::get<Invocation>(r).admin_user, "alice@example.test");
  r = run({"--store", "redis://h:1", "--instance-id", "admin", "--invalidate-keys", "*"});
  ASSERT_EQ(error_of(r), "");
  EXPECT_EQ(std::get<Invocation>(r).action, Invocation::Action::kInvalidateKeys);
  EXPECT_EQ(std::get<Invocation>(r).admin_user, "*");
  EXPECT_NE(error_of(run({"--store", "redis://h:1", "--instance-id", "a", "--purge-user", "*"}))
                .find("bare JID"),
            std::string::npos);
  EXPECT_NE(error_of(run({"--store", "redis://h:1", "--instance-id", "a", "--purge-user",
                          "alice@example.test/phone"}))
                .find("bare JID"),
            std::string::npos);
  EXPECT_NE(error_of(run({"--purge-user", "alice@example.test"})).find("feed.instance_id"),
            std::string::npos);
  EXPECT_NE(error_of(run({"--store", "redis://h:1", "--instance-id", "a", "--purge-user", "a@b",
                          "--invalidate-keys", "*"}))
                .find("once"),
            std::string::npos);
}

TEST_F(ConfigTest, HelpTeaches) {
  auto r = run({"--help"});
  EXPECT_EQ(std::get<Invocation>(r).action, Invocation::Action::kHelp);
  std::string_view help = help_text();
  for (std::string_view must :
       {"--config", "--secret-file", "RPSYNC_SECRET", "sqlite:", "privileged_entities", "SIGTERM",
        "--instance-id", "--purge-user", "--invalidate-keys"})
    EXPECT_NE(help.find(must), std::string_view::npos) << must;
}

}  // namespace
}  // namespace rpsync::app
