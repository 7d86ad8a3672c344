// SPDX-License-Identifier: MIT
// End-to-end: the rpsync-client library against the REAL rpsync-component (plugin/app)
// on a real Prosody with privileges and mod_rpsync_gate. Skipped when the component
// binary has not been built (it is not a dependency of this test target, to keep client
// builds small: build `rpsync-component` or `all` first).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "client_ext/sqlite_session_store.h"
#include "gloox_session.h"
#include "protocol/ns.h"
#include "protocol/sync.h"
#include "protocol/xml.h"
#include "tests/client_ext/record_of.h"
#include "tests/client_ext/test_env.h"
#include "tests/harness/child_process.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;
using testing::GlooxSession;

constexpr const char* kAlice = "alice@example.test";

// The component as a child process (the harness's ChildProcess): SIGTERM on destruction,
// SIGKILL after 5 s.
class ComponentProcess {
 public:
  ComponentProcess(const test::ProsodyServer& server, const std::string& log_path) {
    test::ChildSpec spec;
    spec.argv = {RPSYNC_COMPONENT_BIN,
                 "--component",
                 server.options().component_jid,
                 "--domain",
                 "example.test",
                 "--port",
                 std::to_string(server.component_port()),
                 "--store",
                 "memory:"};
    spec.env = {"RPSYNC_SECRET=" + server.options().component_secret};
    spec.log_path = log_path;
    spec.truncate_log = true;
    started_ = child_.spawn(spec).ok();
  }
  ~ComponentProcess() {
    if (child_.running()) child_.stop(milliseconds(5000));
  }
  bool started() const { return started_; }

 private:
  test::ChildProcess child_;
  bool started_ = false;
};

// Asks the component's disco#info through `c` until it answers (it is connected and has
// its privileges), at most ~10 s.
bool wait_for_component(test::TestClient& c) {
  for (int i = 0; i < 40; ++i) {
    xml::Element iq("iq", std::string(ns::kClient));
    iq.set_attr("type", "get");
    iq.set_attr("id", "ready" + std::to_string(i));
    iq.set_attr("to", "rpsync.example.test");
    iq.add(xml::Element("query", std::string(ns::kDiscoInfo)));
    if (!c.send(iq)) return false;
    auto answer = c.wait_for(
        [&](const xml::Element& e) { return e.attr("id") == "ready" + std::to_string(i); },
        milliseconds(1000));
    if (answer && answer->attr("type") == "result") return true;
    ::usleep(250'000);
  }
  return false;
}

class RealComponent : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(RPSYNC_COMPONENT_BIN)) {
      GTEST_SKIP() << RPSYNC_COMPONENT_BIN << " not built (build target rpsync-component)";
    }
    std::string why;
    server_ = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
    if (!server_) GTEST_SKIP() << why;
    for (const char* u : {"alice", "bob"}) server_->add_user(u, "example.test", "pw");
    server_->add_roster_item(kAlice, "bob@example.test", test::Subscription::kBoth);
    server_->add_roster_item("bob@example.test", kAlice, test::Subscription::kBoth);
    ASSERT_TRUE(testing::load_gate_into(*server_));
    ASSERT_TRUE(server_->launch()) << server_->log();
    start_component();
    bob_ = test::TestClient::login(server_->c2s_port(), "bob", "example.test", "pw", "phone", &why);
    ASSERT_TRUE(bob_) << why;
    ASSERT_TRUE(wait_for_component(*bob_)) << component_log();
    ASSERT_TRUE(bob_->send_presence("", "one"));
  }

  void start_component() {
    component_.reset();
    component_ = std::make_unique<ComponentProcess>(*server_, server_->dir() + "/component.log");
    ASSERT_TRUE(component_->started());
  }
  std::string component_log() const {
    std::stringstream s;
    s << std::ifstream(server_->dir() + "/component.log").rdbuf();
    return s.str();
  }

  std::unique_ptr<GlooxSession> alice(SessionStore* store, bool sm = false) {
    return std::make_unique<GlooxSession>(std::string(kAlice) + "/laptop", "pw",
                                          server_->c2s_port(), store, testing::fast_options(), sm);
  }
  void login_and_enable(GlooxSession& a) {
    ASSERT_TRUE(a.connect());
    ASSERT_TRUE(a.pump([&] { return a.manager().phase() == RpsyncManager::Phase::kOnline; }))
        << "phase " << static_cast<int>(a.manager().phase()) << "\n"
        << component_log();
    ASSERT_EQ(a.recorder().enabled.size(), 1u);
    EXPECT_TRUE(a.recorder().enabled[0]) << "client cache and component view differ";
  }
  void logout(GlooxSession& a) {
    const int before = a.recorder().disconnects;
    a.manager().logout();
    ASSERT_TRUE(a.pump([&] { return a.recorder().disconnects == before + 1; }));
  }
  void reconnect(GlooxSession& a) {
    const int before = a.recorder().connects;
    ASSERT_TRUE(a.connect());
    ASSERT_TRUE(a.pump([&] { return a.recorder().connects == before + 1; })) << component_log();
    a.pump_for(milliseconds(800));
  }

  std::unique_ptr<test::ProsodyServer> server_;
  std::unique_ptr<ComponentProcess> component_;
  std::unique_ptr<test::TestClient> bob_;
};

TEST_F(RealComponent, EnableLogoutChangesSyncAndMarkedPresence) {
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  logout(*a);

  ASSERT_TRUE(bob_->send_presence("dnd", "two"));
  std::string why;
  auto bob2 =
      test::TestClient::login(server_->c2s_port(), "bob", "example.test", "pw", "tablet", &why);
  ASSERT_TRUE(bob2) << why;
  ASSERT_TRUE(bob2->send_presence("", ""));
  ::usleep(300'000);

  reconnect(*a);
  auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u) << (r.full_resyncs.empty() ? "" : r.full_resyncs.back().detail)
                                 << "\n"
                                 << component_log();
  const auto& changes = r.synced_changes[0];
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].jid, "bob@example.test/phone");
  EXPECT_EQ(changes[0].kind, PresenceChange::Kind::kChanged);
  EXPECT_EQ(changes[1].jid, "bob@example.test/tablet");
  EXPECT_EQ(changes[1].kind, PresenceChange::Kind::kAvailable);
  EXPECT_TRUE(a->manager().presence_marked());
  EXPECT_EQ(a->manager().presence_stanzas(), 0u);
  EXPECT_EQ(r.full_resyncs.size(), 1u) << r.full_resyncs.back().detail;
  EXPECT_EQ(record_of(store.load(kAlice))->key.last, a->manager().key()->last);

  // The synced cache equals what a fresh full login (without rpsync state) shows.
  MemorySessionStore other;
  GlooxSession fresh(std::string(kAlice) + "/fresh", "pw", server_->c2s_port(), &other);
  ASSERT_TRUE(fresh.connect());
  ASSERT_TRUE(fresh.pump([&] { return fresh.recorder().connected; }));
  fresh.pump_for(milliseconds(600));
  a->pump_for(milliseconds(200));
  proto::PresenceState synced_view = a->manager().cache().live();
  synced_view.erase("alice@example.test/fresh");
  EXPECT_EQ(synced_view, fresh.manager().cache().live());
  EXPECT_EQ(synced_view.size(), 2u);
}

TEST_F(RealComponent, NothingChangedGivesEmptyDelta) {
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  logout(*a);
  reconnect(*a);
  ASSERT_EQ(a->recorder().synced.size(), 1u) << component_log();
  EXPECT_TRUE(a->recorder().synced_changes[0].empty());
  EXPECT_EQ(a->recorder().synced[0].items, 0u);
  EXPECT_EQ(a->manager().cache().live().size(), 1u);
}

TEST_F(RealComponent, TcpAbortThenReconnectSyncs) {
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->client().abort_connection();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(bob_->send_presence("away", "after the drop"));
  ::usleep(300'000);
  reconnect(*a);
  const auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u) << (r.full_resyncs.empty() ? "" : r.full_resyncs.back().detail)
                                 << "\n"
                                 << component_log();
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].fields.status, "after the drop");
}

// The sync leaves, the component answers, alice closes her connection before reading the
// answer: the stored key stays (the client replaces it only with a verified result) and
// the component still holds it, so the next login syncs with it and gets a delta.
TEST_F(RealComponent, LostSyncResultThenTheSameKeySyncsAgain) {
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  logout(*a);
  const auto before = record_of(store.load(kAlice));
  ASSERT_TRUE(before);
  ASSERT_TRUE(bob_->send_presence("dnd", "first change"));
  ::usleep(300'000);

  const int disconnects = a->recorder().disconnects;
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->manager().phase() == RpsyncManager::Phase::kSyncing; }));
  ::usleep(500'000);         // the component answers meanwhile; alice does not read
  a->client().disconnect();  // closes the socket, the unread answer with it
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == disconnects + 1; }));
  EXPECT_TRUE(a->recorder().synced.empty());
  const std::string log = component_log();
  EXPECT_NE(log.find("sync.delta"), std::string::npos) << "the first sync was answered\n" << log;
  auto kept = record_of(store.load(kAlice));
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->key, before->key);
  EXPECT_EQ(kept->state, before->state);

  ASSERT_TRUE(bob_->send_presence("away", "second change"));
  ::usleep(300'000);
  const std::size_t checkpoints = a->manager().checkpoints_sent();
  reconnect(*a);
  const auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u) << (r.full_resyncs.empty() ? "" : r.full_resyncs.back().detail)
                                 << "\n"
                                 << component_log();
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].fields.status, "second change");
  EXPECT_EQ(r.synced_changes[0][0].fields.show, proto::Show::kAway);
  EXPECT_NE(record_of(store.load(kAlice))->key, before->key) << "the new key is stored";
  // The gate confirmed the marked presence: no verification checkpoint, so the old key
  // stays valid until the client's next checkpoint proves the result -- here the one of
  // its graceful logout. Then the old key retires.
  ASSERT_TRUE(a->pump([&] { return a->manager().presence_confirmed(); }));
  EXPECT_EQ(a->manager().checkpoints_sent(), checkpoints) << "a checkpoint after the confirmation";
  logout(*a);
  std::string why;
  auto probe =
      test::TestClient::login(server_->c2s_port(), "alice", "example.test", "pw", "probe", &why);
  ASSERT_TRUE(probe) << why;
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "set");
  iq.set_attr("id", "retry");
  iq.set_attr("to", "rpsync.example.test");
  iq.add(proto::to_xml(proto::Sync{probe->stream_id(), before->key}));
  ASSERT_TRUE(probe->send(iq));
  auto answer = probe->wait_for([](const xml::Element& e) { return e.attr("id") == "retry"; },
                                milliseconds(5000));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->attr("type"), "error") << xml::to_string(*answer);
  EXPECT_NE(xml::to_string(*answer).find("unknown-key"), std::string::npos)
      << xml::to_string(*answer);
}

TEST_F(RealComponent, ComponentLostItsKeysGivesFullLogin) {
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  logout(*a);
  start_component();  // memory: store, so every key is gone
  ASSERT_TRUE(wait_for_component(*bob_)) << component_log();
  reconnect(*a);
  const auto& r = a->recorder();
  EXPECT_TRUE(r.synced.empty());
  ASSERT_EQ(r.full_resyncs.size(), 2u);
  EXPECT_EQ(r.full_resyncs[1].reason, FullResyncReason::kKeyRejected) << r.full_resyncs[1].detail;
  EXPECT_FALSE(a->manager().presence_marked());
  ASSERT_TRUE(a->pump([&] { return a->manager().phase() == RpsyncManager::Phase::kOnline; }));
  EXPECT_EQ(a->manager().enables_sent(), 2u);
  EXPECT_EQ(a->manager().cache().live().size(), 1u);
}

TEST_F(RealComponent, ApplicationRestartWithPersistedState) {
  const std::string path = server_->dir() + "/alice-state.db";
  {
    SqliteDatabase database(path);
    SqliteSessionStore store(database);
    auto a = alice(&store);
    login_and_enable(*a);
    logout(*a);
  }
  ASSERT_TRUE(bob_->send_presence("xa", "while restarting"));
  ::usleep(300'000);
  SqliteDatabase database(path);
  SqliteSessionStore store(database);
  auto a = alice(&store);
  reconnect(*a);
  const auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u) << (r.full_resyncs.empty() ? "" : r.full_resyncs.back().detail);
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].fields.show, proto::Show::kXa);
  EXPECT_TRUE(r.full_resyncs.empty());
}

TEST_F(RealComponent, ResumeWithinTimeoutSendsNoSyncRequest) {
  MemorySessionStore store;
  auto a = alice(&store, /*sm=*/true);
  login_and_enable(*a);
  a->client().abort_connection();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  reconnect(*a);
  EXPECT_EQ(a->recorder().resumed, 1);
  EXPECT_EQ(a->manager().syncs_sent(), 0u);
  EXPECT_EQ(a->recorder().find_outgoing("<sync xmlns='urn:xmpp:rpsync:0'"), -1);
}

// Figures with the real component: 50 online contacts showing show/status/priority/caps,
// full login vs. a synced, marked reconnect after two changes. Prints; asserts only that
// the reconnect gets no contact presence and fewer bytes.
TEST(RealComponentFigures, ReconnectWith50OnlineContacts) {
  if (!fs::exists(RPSYNC_COMPONENT_BIN)) GTEST_SKIP() << RPSYNC_COMPONENT_BIN << " not built";
  constexpr int kContacts = 50;
  std::string why;
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
  if (!server) GTEST_SKIP() << why;
  server->add_user("alice", "example.test", "pw");
  for (int i = 0; i < kContacts; ++i) {
    const std::string c = "c" + std::to_string(i) + "@example.test";
    server->add_user("c" + std::to_string(i), "example.test", "pw");
    server->add_roster_item(kAlice, c, test::Subscription::kBoth);
    server->add_roster_item(c, kAlice, test::Subscription::kBoth);
  }
  ASSERT_TRUE(testing::load_gate_into(*server));
  ASSERT_TRUE(server->launch()) << server->log();
  ComponentProcess component(*server, server->dir() + "/component.log");
  std::vector<std::unique_ptr<test::TestClient>> contacts;
  for (int i = 0; i < kContacts; ++i) {
    contacts.push_back(test::TestClient::login(server->c2s_port(), "c" + std::to_string(i),
                                               "example.test", "pw", "r", &why));
    ASSERT_TRUE(contacts.back()) << why;
  }
  ASSERT_TRUE(wait_for_component(*contacts[0]));
  for (int i = 0; i < kContacts; ++i) {
    xml::Element p("presence", std::string(ns::kClient));
    p.add(xml::Element("show", std::string(ns::kClient))).set_text("away");
    p.add(xml::Element("status", std::string(ns::kClient)))
        .set_text("contact " + std::to_string(i));
    p.add(xml::Element("priority", std::string(ns::kClient))).set_text("5");
    xml::Element caps("c", std::string(ns::kCaps));
    caps.set_attr("hash", "sha-1");
    caps.set_attr("node", "https://example.org/client");
    caps.set_attr("ver", "QgayPKawpkPSDYmwT/WM94uAlu0=");
    p.add(std::move(caps));
    ASSERT_TRUE(contacts[static_cast<std::size_t>(i)]->send(p));
  }
  ::usleep(500'000);

  MemorySessionStore store;
  GlooxSession a(std::string(kAlice) + "/laptop", "pw", server->c2s_port(), &store);
  std::size_t bytes0 = a.client().bytes_received();
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(a.pump([&] { return a.manager().phase() == RpsyncManager::Phase::kOnline; }));
  a.pump_for(milliseconds(300));
  const std::size_t full_bytes = a.client().bytes_received() - bytes0;
  const std::size_t full_presence = a.manager().presence_stanzas();
  const std::size_t full_presence_bytes = a.manager().presence_bytes();
  ASSERT_EQ(a.manager().cache().live().size(), static_cast<std::size_t>(kContacts));
  EXPECT_TRUE(a.recorder().enabled.at(0));
  a.manager().logout();
  ASSERT_TRUE(a.pump([&] { return a.recorder().disconnects == 1; }));

  ASSERT_TRUE(contacts[3]->send_presence("dnd", "meeting"));
  contacts[7]->close();
  ::usleep(300'000);

  bytes0 = a.client().bytes_received();
  ASSERT_TRUE(a.connect());
  ASSERT_TRUE(a.pump([&] { return a.recorder().connects == 2; }));
  a.pump_for(milliseconds(500));
  const std::size_t sync_bytes = a.client().bytes_received() - bytes0;
  ASSERT_EQ(a.recorder().synced.size(), 1u);
  const SyncStats& st = a.recorder().synced[0];
  std::printf(
      "rpsync client + rpsync-component, %d online contacts (show+status+priority+caps), "
      "Prosody 0.12 + gate:\n"
      "  full login:        %zu bytes received (stream setup to settled), "
      "%zu contact presence stanzas = %zu bytes\n"
      "  synced reconnect:  %zu bytes received, delta %zu items = %zu bytes, rtt %lld us, "
      "%zu contact presence stanzas, marked=%d\n",
      kContacts, full_bytes, full_presence, full_presence_bytes, sync_bytes, st.items, st.bytes,
      static_cast<long long>(st.round_trip.count()), a.manager().presence_stanzas(),
      a.manager().presence_marked() ? 1 : 0);
  EXPECT_EQ(st.items, 2u);
  EXPECT_EQ(a.manager().presence_stanzas(), 0u);
  EXPECT_LT(sync_bytes, full_bytes);
}

}  // namespace
}  // namespace rpsync::client
