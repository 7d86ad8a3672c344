// SPDX-License-Identifier: MIT
// Client-side scenarios against a real Prosody and the scripted StubComponent (see
// stub_component.h): first login -> enable, graceful logout and TCP abort, changes while
// away, empty delta, key rejected, digest mismatch, restart with persisted state, resume.
//
// alice (gloox + RpsyncManager) has bob and carol (harness TestClients) in her roster.
#include "stub_component.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "client_ext/sqlite_session_store.h"
#include "gloox_session.h"
#include "protocol/ns.h"
#include "protocol/state.h"
#include "tests/client_ext/record_of.h"
#include "tests/client_ext/test_env.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;
using testing::GlooxSession;
using testing::StubComponent;

constexpr const char* kDomain = "example.test";
constexpr const char* kAlice = "alice@example.test";

class StubScenario : public ::testing::Test {
 protected:
  virtual bool with_gate() const { return false; }

  void SetUp() override {
    std::string why;
    server_ = test::ProsodyServer::create(test::ProsodyOptions{}, &why);
    if (!server_) {
      if (!test::ProsodyServer::find_executable()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    for (const char* u : {"alice", "bob", "carol"}) server_->add_user(u, kDomain, "pw");
    for (const char* c : {"bob@example.test", "carol@example.test"}) {
      server_->add_roster_item(kAlice, c, test::Subscription::kBoth);
      server_->add_roster_item(c, kAlice, test::Subscription::kBoth);
    }
    if (with_gate()) {
      ASSERT_TRUE(testing::load_gate_into(*server_));
    }
    ASSERT_TRUE(server_->launch()) << server_->log();
    stub_ =
        std::make_unique<StubComponent>("rpsync.example.test", "s3cret", server_->component_port());
    ASSERT_TRUE(stub_->connect(false));
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!stub_->ready() && std::chrono::steady_clock::now() < end) stub_->recv(10'000);
    ASSERT_TRUE(stub_->ready()) << server_->log();
  }

  std::unique_ptr<test::TestClient> login(const char* user, const char* resource) {
    std::string why;
    auto c = test::TestClient::login(server_->c2s_port(), user, kDomain, "pw", resource, &why);
    EXPECT_NE(c, nullptr) << why;
    return c;
  }

  std::unique_ptr<GlooxSession> alice(SessionStore* store, bool sm = false,
                                      const char* resource = "laptop") {
    auto s =
        std::make_unique<GlooxSession>(std::string(kAlice) + "/" + resource, "pw",
                                       server_->c2s_port(), store, testing::fast_options(), sm);
    s->side = [this] { stub_->pump(); };
    return s;
  }

  // Logs in and waits until the component enabled the session.
  void login_and_enable(GlooxSession& a) {
    ASSERT_TRUE(a.connect());
    ASSERT_TRUE(a.pump([&] { return a.manager().phase() == RpsyncManager::Phase::kOnline; }))
        << "phase " << static_cast<int>(a.manager().phase()) << "\n"
        << server_->log();
  }

  // Lets presence reach both alice and the stub.
  void settle(GlooxSession& a) { a.pump_for(milliseconds(400)); }

  std::unique_ptr<test::ProsodyServer> server_;
  std::unique_ptr<StubComponent> stub_;
};

TEST_F(StubScenario, FirstLoginEnablesOnceFloodSettled) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("away", "lunch"));
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);

  const auto& r = a->recorder();
  EXPECT_EQ(a->manager().component(), "rpsync.example.test");
  EXPECT_EQ(stub_->enables, 1);
  EXPECT_EQ(stub_->syncs, 0);
  ASSERT_EQ(r.enabled.size(), 1u);
  EXPECT_TRUE(r.enabled[0]) << "client cache and component view must agree";
  const long presence_at = r.find_outgoing("<presence");
  const long enable_at = r.find_outgoing("<enable xmlns='urn:xmpp:rpsync:0'");
  ASSERT_GE(enable_at, 0);
  EXPECT_LT(presence_at, enable_at) << "enable follows the full login";

  LoadResult saved = store.load(kAlice);
  ASSERT_TRUE(record_of(saved));
  EXPECT_EQ(record_of(saved)->key.stream, a->client().stream_id());
  EXPECT_EQ(record_of(saved)->key.resource, "laptop");
  EXPECT_EQ(record_of(saved)->component, "rpsync.example.test");
  EXPECT_EQ(record_of(saved)->state, stub_->view_of(kAlice));
  EXPECT_EQ(record_of(saved)->state.count("bob@example.test/phone"), 1u);
}

TEST_F(StubScenario, ChangesWhileAwayArriveAsExactlyThoseChanges) {
  auto bob = login("bob", "phone");
  auto carol = login("carol", "desk");
  ASSERT_TRUE(bob->send_presence("", "hi"));
  ASSERT_TRUE(carol->send_presence("xa", "gone fishing"));
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->manager().logout();  // graceful: final checkpoint, then </stream:stream>
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  EXPECT_EQ(stub_->checkpoints, 1);

  // While alice is away: bob changes, carol leaves, bob adds a second resource.
  ASSERT_TRUE(bob->send_presence("dnd", "meeting"));
  carol->close();
  auto bob2 = login("bob", "tablet");
  ASSERT_TRUE(bob2->send_presence("", ""));
  for (int i = 0; i < 40; ++i) stub_->recv(10'000);

  auto& r = a->recorder();
  const std::size_t second_session = r.outgoing.size();
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return r.connects == 2; })) << server_->log();
  ASSERT_EQ(r.synced.size(), 1u) << r.events.back();
  const auto& changes = r.synced_changes[0];
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].jid, "bob@example.test/phone");
  EXPECT_EQ(changes[0].kind, PresenceChange::Kind::kChanged);
  EXPECT_EQ(changes[0].fields.show, proto::Show::kDnd);
  EXPECT_EQ(changes[1].jid, "bob@example.test/tablet");
  EXPECT_EQ(changes[1].kind, PresenceChange::Kind::kAvailable);
  EXPECT_EQ(changes[2].jid, "carol@example.test/desk");
  EXPECT_EQ(changes[2].kind, PresenceChange::Kind::kUnavailable);
  EXPECT_EQ(r.synced[0].items, 3u);
  EXPECT_GT(r.synced[0].bytes, 0u);

  // Sync went out before initial presence of the second session.
  const long sync_at = r.find_outgoing("<sync xmlns='urn:xmpp:rpsync:0'", second_session);
  const long presence_at = r.find_outgoing("<presence", second_session);
  ASSERT_GE(sync_at, 0);
  ASSERT_GE(presence_at, 0);
  EXPECT_LT(sync_at, presence_at);

  // The cache equals what a fresh full login shows.
  settle(*a);
  MemorySessionStore other;
  auto fresh = alice(&other, false, "fresh");
  ASSERT_TRUE(fresh->connect());
  ASSERT_TRUE(fresh->pump([&] { return fresh->recorder().connected; }));
  fresh->pump_for(milliseconds(600));
  proto::PresenceState synced_view = a->manager().cache().live();
  synced_view.erase("alice@example.test/fresh");
  EXPECT_EQ(synced_view, fresh->manager().cache().live());
  EXPECT_EQ(fresh->manager().cache().live().size(), 2u);
}

TEST_F(StubScenario, NothingChangedGivesEmptyDelta) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("", "steady"));
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->manager().logout();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 2; }));
  ASSERT_EQ(a->recorder().synced.size(), 1u);
  EXPECT_TRUE(a->recorder().synced_changes[0].empty());
  ASSERT_TRUE(stub_->last_delta);
  EXPECT_TRUE(stub_->last_delta->empty());
  EXPECT_EQ(a->manager().phase(), RpsyncManager::Phase::kOnline);
  EXPECT_EQ(a->manager().cache().live().size(), 1u);
}

// Index in `wire` at or after `from` of the first entry with prefix `dir` containing
// every needle, or -1.
long find_wire_from(const std::vector<std::string>& wire, std::size_t from, const std::string& dir,
                    std::initializer_list<std::string> needles) {
  for (std::size_t i = from; i < wire.size(); ++i) {
    if (!wire[i].starts_with(dir)) continue;
    bool all = true;
    for (const auto& n : needles) all = all && wire[i].find(n) != std::string::npos;
    if (all) return static_cast<long>(i);
  }
  return -1;
}

// The sync does not wait for the roster: it leaves with (before) the roster get, and
// initial presence follows only once both the roster and the delta arrived.
// Records, for each save, whether initial presence had already left (a->recorder()).
class PresenceAwareStore final : public SessionStore {
 public:
  LoadResult load(std::string_view account) override { return inner.load(account); }
  Status save(std::string_view account, const SavedSession& s) override {
    saved_after_presence.push_back(session != nullptr &&
                                   session->recorder().find_outgoing("<presence", from) >= 0);
    return inner.save(account, s);
  }
  Status erase(std::string_view account) override { return inner.erase(account); }
  MemorySessionStore inner;
  GlooxSession* session = nullptr;
  std::size_t from = 0;  // outgoing index where the login of interest starts
  std::vector<bool> saved_after_presence;
};

TEST_F(StubScenario, SyncIsPipelinedWithTheRosterGet) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("", "steady"));
  PresenceAwareStore store;
  auto a = alice(&store);
  store.session = a.get();
  login_and_enable(*a);
  a->manager().logout();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(bob->send_presence("away", "moved"));
  for (int i = 0; i < 20; ++i) stub_->recv(10'000);

  const auto& w = a->recorder().wire;
  const std::size_t from = w.size();
  store.from = a->recorder().outgoing.size();
  store.saved_after_presence.clear();
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 2; }));
  ASSERT_EQ(a->recorder().synced.size(), 1u);
  ASSERT_EQ(a->recorder().synced_changes[0].size(), 1u);

  const long sync_out = find_wire_from(w, from, ">> ", {"<sync xmlns='urn:xmpp:rpsync:0'"});
  const long get_out = find_wire_from(w, from, ">> ", {"jabber:iq:roster", "type='get'"});
  const long roster_in = find_wire_from(w, from, "<< ", {"jabber:iq:roster", "type='result'"});
  ASSERT_GE(sync_out, 0);
  const std::string& sync = w[static_cast<std::size_t>(sync_out)];
  const std::size_t id_at = sync.find("id='");
  ASSERT_NE(id_at, std::string::npos);
  const std::string sync_id = sync.substr(id_at, sync.find('\'', id_at + 4) + 1 - id_at);
  const long delta_in = find_wire_from(w, from, "<< ", {sync_id, "delta"});
  const long presence_out = find_wire_from(w, from, ">> ", {"<presence"});
  std::string dump;
  for (std::size_t i = from; i < w.size(); ++i) dump += w[i].substr(0, 160) + "\n";
  SCOPED_TRACE(dump);
  ASSERT_GE(get_out, 0);
  ASSERT_GE(roster_in, 0);
  ASSERT_GE(delta_in, 0);
  ASSERT_GE(presence_out, 0);
  EXPECT_LT(sync_out, get_out) << "the sync leaves first";
  EXPECT_LT(sync_out, roster_in) << "the sync does not wait for the roster result";
  EXPECT_GT(presence_out, roster_in);
  EXPECT_GT(presence_out, delta_in);
  // No XEP-0083 delimiter get without a roster cache... (plain gloox behaviour kept)
  EXPECT_GE(find_wire_from(w, from, ">> ", {"roster:delimiter"}), 0);
  // ...and the key was saved after the sync: after the initial presence left when the
  // delta came last (the release happens in the answer's callback, before the save);
  // right away when the delta came before the roster (the presence waits for it).
  ASSERT_FALSE(store.saved_after_presence.empty());
  EXPECT_EQ(store.saved_after_presence.front(), delta_in > roster_in);
  LoadResult saved = store.load(kAlice);
  ASSERT_TRUE(record_of(saved));
  EXPECT_EQ(record_of(saved)->key.stream, a->client().stream_id());
}

TEST_F(StubScenario, RejectedKeyFallsBackToFullLoginAndEnables) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->manager().logout();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));

  stub_->sync_error = proto::make_error(proto::AppCondition::kUnknownKey);
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->manager().phase() == RpsyncManager::Phase::kOnline; }));
  const auto& r = a->recorder();
  ASSERT_EQ(r.full_resyncs.size(), 2u);
  EXPECT_EQ(r.full_resyncs[1].reason, FullResyncReason::kKeyRejected);
  ASSERT_TRUE(r.full_resyncs[1].error);
  EXPECT_EQ(r.full_resyncs[1].error->app, proto::AppCondition::kUnknownKey);
  EXPECT_EQ(stub_->enables, 2);
  EXPECT_TRUE(r.synced.empty());
  ASSERT_TRUE(record_of(store.load(kAlice)));
  EXPECT_EQ(record_of(store.load(kAlice))->key.stream, a->client().stream_id());
}

TEST_F(StubScenario, DigestMismatchFallsBack) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->manager().logout();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(bob->send_presence("away"));  // a non-empty delta
  for (int i = 0; i < 20; ++i) stub_->recv(10'000);
  stub_->corrupt_digest = true;
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 2; }));
  const auto& r = a->recorder();
  EXPECT_TRUE(r.synced.empty());
  ASSERT_EQ(r.full_resyncs.size(), 2u);
  EXPECT_EQ(r.full_resyncs[1].reason, FullResyncReason::kDigestMismatch);
  // The flood rebuilds the cache.
  ASSERT_TRUE(a->pump([&] {
    auto it = a->manager().cache().live().find("bob@example.test/phone");
    return it != a->manager().cache().live().end() && it->second.show == proto::Show::kAway;
  }));
}

TEST_F(StubScenario, TcpAbortThenReconnectSyncsFromLastCheckpoint) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("", "one"));
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  // A change while online leads to a checkpoint after the quiet period.
  ASSERT_TRUE(bob->send_presence("", "two"));
  ASSERT_TRUE(a->pump([&] {
    return stub_->checkpoints == 1 && !a->manager().key()->last.empty() &&
           record_of(store.load(kAlice))->key.last == a->manager().key()->last;
  }));
  a->client().abort_connection();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(bob->send_presence("", "three"));
  for (int i = 0; i < 20; ++i) stub_->recv(10'000);

  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 2; })) << server_->log();
  const auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u);
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].fields.status, "three");
}

TEST_F(StubScenario, ApplicationRestartUsesPersistedState) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("rpsync-client-restart-" + std::to_string(::getpid()) + ".db"))
                               .string();
  std::filesystem::remove(path);
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("chat", "before"));
  {
    SqliteDatabase database(path);
    SqliteSessionStore store(database);
    auto a = alice(&store);
    login_and_enable(*a);
    a->manager().logout();
    ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  }  // the application exits
  ASSERT_TRUE(bob->send_presence("chat", "after"));
  for (int i = 0; i < 20; ++i) stub_->recv(10'000);

  SqliteDatabase database(path);  // a new process would do exactly this
  SqliteSessionStore store(database);
  auto a = alice(&store);
  EXPECT_EQ(a->manager().cache().live().at("bob@example.test/phone").status, "before");
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 1; }));
  const auto& r = a->recorder();
  ASSERT_EQ(r.synced.size(), 1u);
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].fields.status, "after");
  EXPECT_TRUE(r.full_resyncs.empty());
  std::filesystem::remove(path);
}

TEST_F(StubScenario, ResumeWithinTimeoutSendsNoSyncRequest) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  auto a = alice(&store, /*sm=*/true);
  login_and_enable(*a);
  a->client().abort_connection();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return a->recorder().connects == 2; })) << server_->log();
  EXPECT_EQ(a->recorder().resumed, 1);
  EXPECT_EQ(stub_->syncs, 0);
  EXPECT_EQ(a->manager().syncs_sent(), 0u);
  EXPECT_EQ(a->manager().phase(), RpsyncManager::Phase::kOnline);
}

TEST_F(StubScenario, RejectedCheckpointStartsOverWithEnable) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  stub_->forget_keys();
  ASSERT_TRUE(bob->send_presence("away"));  // -> checkpoint -> out-of-order
  ASSERT_TRUE(a->pump([&] {
    return stub_->enables == 2 && a->manager().phase() == RpsyncManager::Phase::kOnline;
  }));
  EXPECT_EQ(stub_->checkpoints, 1);
  ASSERT_TRUE(record_of(store.load(kAlice)));
  EXPECT_EQ(record_of(store.load(kAlice))->key.last, a->manager().key()->last);
  EXPECT_EQ(record_of(store.load(kAlice))->state.at("bob@example.test/phone").show,
            proto::Show::kAway);
}

TEST_F(StubScenario, DisableDropsStateAndNextLoginStartsOver) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  auto a = alice(&store);
  login_and_enable(*a);
  a->manager().disable();
  ASSERT_TRUE(a->pump([&] { return stub_->disables == 1; }));
  EXPECT_FALSE(record_of(store.load(kAlice)));
  EXPECT_EQ(a->manager().phase(), RpsyncManager::Phase::kPlain);
  a->pump_for(milliseconds(500));
  EXPECT_EQ(stub_->enables, 1) << "no re-enable in the same session";
  a->manager().logout();
  ASSERT_TRUE(a->pump([&] { return a->recorder().disconnects == 1; }));
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return stub_->enables == 2; }));
  EXPECT_EQ(stub_->syncs, 0);
}

// The same world with mod_rpsync_gate on the server: the client marks its initial
// presence after a verified sync and the server skips the presence flood.
class GatedScenario : public StubScenario {
 protected:
  bool with_gate() const override { return true; }

  // alice: full login, enable, graceful logout.
  void first_session(GlooxSession& a) {
    login_and_enable(a);
    EXPECT_TRUE(a.manager().server_skips_flood());
    EXPECT_FALSE(a.manager().presence_marked()) << "a full login is never marked";
    a.manager().logout();
    ASSERT_TRUE(a.pump([&] { return a.recorder().disconnects == 1; }));
  }
};

// Nothing reached alice between her sync and her marked presence: the gate confirms on
// the reflection and the client sends no verification checkpoint.
TEST_F(GatedScenario, MarkedPresenceSkipsTheFloodAndIsConfirmed) {
  auto bob = login("bob", "phone");
  auto carol = login("carol", "desk");
  ASSERT_TRUE(bob->send_presence("", "one"));
  ASSERT_TRUE(carol->send_presence("away", ""));
  MemorySessionStore store;
  auto a = alice(&store);
  first_session(*a);
  const int checkpoints_before = stub_->checkpoints;
  ASSERT_TRUE(bob->send_presence("", "two"));
  for (int i = 0; i < 20; ++i) stub_->recv(10'000);

  auto& r = a->recorder();
  const std::size_t second_session = r.outgoing.size();
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] { return r.connects == 2 && a->manager().presence_confirmed(); }));
  a->pump_for(milliseconds(500));
  ASSERT_EQ(r.synced.size(), 1u);
  EXPECT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_TRUE(a->manager().presence_marked());
  const long presence_at = r.find_outgoing("<presence", second_session);
  ASSERT_GE(presence_at, 0);
  EXPECT_NE(
      r.outgoing[static_cast<std::size_t>(presence_at)].find("<synced xmlns='urn:xmpp:rpsync:0'/>"),
      std::string::npos)
      << r.outgoing[static_cast<std::size_t>(presence_at)];
  EXPECT_EQ(a->manager().presence_stanzas(), 0u) << "the server must not flood a marked session";
  EXPECT_EQ(stub_->checkpoints, checkpoints_before) << "a checkpoint after a confirmation";
  EXPECT_EQ(r.full_resyncs.size(), 1u) << "only the first login";
  ASSERT_TRUE(record_of(store.load(kAlice)));
  EXPECT_EQ(record_of(store.load(kAlice))->key.last, a->manager().key()->last);
  EXPECT_EQ(a->manager().cache().live(), stub_->view_of(kAlice));
}

TEST_F(GatedScenario, ChangeBetweenSyncAndPresenceIsCaughtAndFlooded) {
  auto bob = login("bob", "phone");
  ASSERT_TRUE(bob->send_presence("", "before"));
  MemorySessionStore store;
  auto a = alice(&store);
  first_session(*a);
  // Right after the component answers the sync, before alice's initial presence, bob
  // changes: the delta misses it and the gate skips the probe that would carry it.
  stub_->on_sync_answered = [&] {
    ASSERT_TRUE(bob->send_presence("xa", "in the window"));
    // A ping round trip on bob's stream: when its result arrives, Prosody has processed
    // (and routed) bob's presence, before alice can even read the delta.
    xml::Element ping("iq", std::string(ns::kClient));
    ping.set_attr("type", "get");
    ping.set_attr("id", "window-ping");
    ping.set_attr("to", "example.test");
    ping.add(xml::Element("ping", std::string(ns::kPing)));
    ASSERT_TRUE(bob->send(ping));
    ASSERT_TRUE(bob->wait_for([](const xml::Element& e) { return e.attr("id") == "window-ping"; },
                              milliseconds(3000)));
  };

  auto& r = a->recorder();
  const std::size_t second_session = r.outgoing.size();
  ASSERT_TRUE(a->connect());
  ASSERT_TRUE(a->pump([&] {
    auto it = a->manager().cache().live().find("bob@example.test/phone");
    return it != a->manager().cache().live().end() && it->second.show == proto::Show::kXa &&
           record_of(store.load(kAlice)) &&
           record_of(store.load(kAlice))->state.at("bob@example.test/phone").show ==
               proto::Show::kXa;
  })) << "events: "
      << r.events.size();
  ASSERT_EQ(r.synced.size(), 1u);
  EXPECT_TRUE(r.synced_changes[0].empty());
  ASSERT_EQ(r.full_resyncs.size(), 2u);
  EXPECT_EQ(r.full_resyncs[1].reason, FullResyncReason::kDigestMismatch);
  EXPECT_FALSE(a->manager().presence_confirmed()) << "the gate confirmed a window bob changed in";
  const long marked_at = r.find_outgoing("<synced xmlns='urn:xmpp:rpsync:0'/>", second_session);
  const long unavailable_at = r.find_outgoing("type='unavailable'", second_session);
  ASSERT_GE(marked_at, 0);
  ASSERT_GT(unavailable_at, marked_at);
  const long unmarked_at =
      r.find_outgoing("<presence", static_cast<std::size_t>(unavailable_at) + 1);
  ASSERT_GT(unmarked_at, unavailable_at);
  EXPECT_EQ(r.outgoing[static_cast<std::size_t>(unmarked_at)].find("synced"), std::string::npos);
  EXPECT_GE(a->manager().presence_stanzas(), 1u) << "the re-sent presence is flooded";
  EXPECT_EQ(a->manager().cache().live(), stub_->view_of(kAlice));
}

}  // namespace
}  // namespace rpsync::client
