// SPDX-License-Identifier: MIT
// The libstrophe binding's SQLite state file: key, snapshot and roster survive a restart;
// a file that is not a database, or a tampered record, gives a clean full login.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "client_strophe/session.h"
#include "protocol/ns.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "tests/client_strophe/recording_transport.h"

namespace rpsync::strophe {
namespace {

constexpr const char* kMe = "alice@example.test/phone";
constexpr const char* kComponent = "rpsync.example.test";

class StateFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("rpsync-strophe-state-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "state.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // One process lifetime: a Session on the state file.
  std::unique_ptr<Session> open(testing::RecordingTransport& t, testing::RecordingEvents& e) {
    Options o;
    o.component = kComponent;
    o.now = [this] { return clock_.t; };
    auto s = std::make_unique<Session>(kMe, o, t, e);
    EXPECT_TRUE(s->open_state(path_).ok());
    return s;
  }
  void exec(const char* sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }

  std::filesystem::path dir_;
  std::string path_;
  testing::ManualClock clock_;
};

// Enables a session with `state` once the flood settled: the file holds the key.
void enable_with(Session& s, testing::RecordingTransport& t, testing::ManualClock& clock,
                 const proto::PresenceState& state) {
  s.on_login(kMe, false);
  for (const auto& [jid, fields] : state) {
    xml::Element p("presence", "jabber:client");
    p.set_attr("from", jid);
    s.on_stanza(p, 50);
  }
  ASSERT_TRUE(s.send_initial_presence(xml::Element("presence", "jabber:client")));
  clock.advance(std::chrono::seconds(2));
  s.tick();
  const xml::Element* enable = t.last_iq("enable", ns::kRpsync);
  ASSERT_NE(enable, nullptr);
  s.on_stanza(testing::result(std::string(*enable->attr("id")), kComponent,
                              proto::to_xml(proto::Enabled{3600, proto::digest_of(state)})),
              100);
}

TEST_F(StateFile, KeyAndSnapshotSurviveARestart) {
  const proto::PresenceState state{{"bob@example.test/desk", {}}};
  {
    testing::RecordingTransport t;
    testing::RecordingEvents e;
    auto s = open(t, e);
    enable_with(*s, t, clock_, state);
    ASSERT_EQ(e.enables, std::vector<bool>{true});
  }
  testing::RecordingTransport t;
  testing::RecordingEvents e;
  auto s = open(t, e);
  EXPECT_EQ(s->cache().live(), state);
  s->on_login(kMe, false);
  EXPECT_EQ(t.count("sync", ns::kRpsync), 1u);
  EXPECT_TRUE(e.full_resyncs.empty());
}

TEST_F(StateFile, ATamperedRecordGivesACleanFullLogin) {
  const proto::PresenceState state{{"bob@example.test/desk", {}}};
  {
    testing::RecordingTransport t;
    testing::RecordingEvents e;
    auto s = open(t, e);
    enable_with(*s, t, clock_, state);
  }
  exec("UPDATE rpsync_presence SET status = 'edited'");
  testing::RecordingTransport t;
  testing::RecordingEvents e;
  auto s = open(t, e);
  EXPECT_TRUE(s->cache().live().empty());
  s->on_login(kMe, false);
  EXPECT_EQ(t.count("sync", ns::kRpsync), 0u);
  ASSERT_EQ(e.full_resyncs.size(), 1u);
  EXPECT_EQ(e.full_resyncs[0].reason, client::FullResyncReason::kStoreError);
}

TEST_F(StateFile, AFileThatIsNotADatabaseGivesACleanFullLoginAndANewFile) {
  std::ofstream(path_) << "garbage, not SQLite";
  {
    testing::RecordingTransport t;
    testing::RecordingEvents e;
    auto s = open(t, e);
    EXPECT_TRUE(std::filesystem::exists(path_ + ".corrupt"));
    s->on_login(kMe, false);
    ASSERT_EQ(e.full_resyncs.size(), 1u);
    EXPECT_EQ(e.full_resyncs[0].reason, client::FullResyncReason::kStoreError);
    s->on_disconnect();
    enable_with(*s, t, clock_, {});
  }
  testing::RecordingTransport t;
  testing::RecordingEvents e;
  auto s = open(t, e);
  s->on_login(kMe, false);
  EXPECT_EQ(t.count("sync", ns::kRpsync), 1u) << "the new file keeps the next key";
}

}  // namespace
}  // namespace rpsync::strophe
