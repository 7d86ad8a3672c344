// SPDX-License-Identifier: MIT
// Secrets never printed (one redaction for every form of store URI) and a secret file that
// every local user can read is reported at start.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "plugin/app/config.h"
#include "plugin/store/redact.h"
#include "plugin/store/redis_store.h"
#include "plugin/store/store.h"

namespace rpsync::app {
namespace {

TEST(Redaction, NoFormOfStoreUriShowsItsPassword) {
  for (const char* uri : {"redis://:PW@127.0.0.1:6379/0", "redis://user:PW@127.0.0.1:6379",
                          "redis://PW@127.0.0.1:6379", "redis://127.0.0.1:6379/0?password=PW",
                          "redis://u:P@W@127.0.0.1:6379?prefix=x&password=PW",
                          "rediss://:PW@127.0.0.1:6379/0", "redis://:a/PW@127.0.0.1:6379/0",
                          "redis://u:PW/x@127.0.0.1:6379", "redis://:P?W@127.0.0.1:6379/0"}) {
    const std::string shown = store::redact_uri(uri);
    EXPECT_EQ(shown.find("PW"), std::string::npos) << uri << " -> " << shown;
    EXPECT_EQ(shown.find("P@W"), std::string::npos) << uri << " -> " << shown;
    EXPECT_NE(shown.find("127.0.0.1:6379"), std::string::npos) << shown;
  }
  EXPECT_EQ(store::redact_uri("redis://user:PW@h:1/2"), "redis://user:***@h:1/2");
  EXPECT_EQ(store::redact_uri("redis://:P?W@h:1/2"), "redis://:***@h:1/2");
  EXPECT_EQ(store::redact_uri("redis://:a/PW@h:1/2?db=3"), "redis://:***@h:1/2?...");
  EXPECT_EQ(store::redact_uri("sqlite:/var/lib/rpsync/rpsync.db"),
            "sqlite:/var/lib/rpsync/rpsync.db");
  EXPECT_EQ(store::redact_uri("memory:"), "memory:");
}

TEST(Redaction, AnUnknownStoreSchemeIsNotEchoedWithItsSecret) {
  auto r = store::open_store("rediss://:PW@127.0.0.1:6379/0");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().find("PW"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("rediss://:***@127.0.0.1:6379/0"), std::string::npos)
      << r.status().message();
}

TEST(Redaction, RedisUserinfoIsParsedAndNeverEchoedInErrors) {
  auto t = store::parse_redis_uri("redis://:PW@127.0.0.1:6379/2");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->password, "PW");
  EXPECT_EQ(t->username, "");
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->db, 2);
  t = store::parse_redis_uri("redis://rpsync:PW@[::1]:6380");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->username, "rpsync");
  EXPECT_EQ(t->password, "PW");
  EXPECT_EQ(t->port, 6380);
  for (const char* bad : {"redis://:PW@127.0.0.1:port", "redis://u:PW@h:1?bogus=1",
                          "redis://h:1?password=PW&bogus=1"}) {
    auto e = store::parse_redis_uri(bad);
    ASSERT_FALSE(e.ok()) << bad;
    EXPECT_EQ(e.status().message().find("PW"), std::string::npos) << e.status().message();
  }
}

std::optional<std::string> no_env(const char*) {
  return std::nullopt;
}

std::vector<std::string> warnings_for_mode(mode_t mode) {
  auto p = std::filesystem::temp_directory_path() /
           ("rpsync-secrets-test-" + std::to_string(::getpid()));
  std::ofstream(p) << "s3cret\n";
  ::chmod(p.c_str(), mode);
  std::string path = p.string();
  std::vector<const char*> argv{"rpsync-component", "--component",   "c.example",  "--domain",
                                "example",          "--secret-file", path.c_str(), "--check"};
  auto r = parse_command_line(static_cast<int>(argv.size()), argv.data(), no_env);
  std::filesystem::remove(p);
  if (auto* e = std::get_if<ConfigError>(&r)) return {"error: " + e->message};
  return std::get<Invocation>(r).config.warnings;
}

TEST(SecretFile, ReadableByOthersIsReported) {
  auto w = warnings_for_mode(0644);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("readable by every local user"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("644"), std::string::npos) << w[0];
  EXPECT_EQ(w[0].find("s3cret"), std::string::npos);
  EXPECT_TRUE(warnings_for_mode(0600).empty());
  EXPECT_TRUE(warnings_for_mode(0640).empty());
}

}  // namespace
}  // namespace rpsync::app
