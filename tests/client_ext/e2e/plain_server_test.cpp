// SPDX-License-Identifier: MIT
// Scenario tests against a real Prosody WITHOUT a connected rpsync component: the client
// must behave like a plain gloox client, and the login-order and XEP-0198 hooks must work.
//
// alice (gloox + RpsyncManager) and bob (harness TestClient) have each other in their
// rosters with subscription both.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "gloox_session.h"
#include "protocol/ns.h"
#include "tests/client_ext/record_of.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::client {
namespace {

using std::chrono::milliseconds;
using testing::GlooxSession;

constexpr const char* kDomain = "example.test";

std::unique_ptr<test::ProsodyServer> start_server(std::string* why) {
  auto server = test::ProsodyServer::create(test::ProsodyOptions{}, why);
  if (!server) return nullptr;
  server->add_user("alice", kDomain, "pw");
  server->add_user("bob", kDomain, "pw");
  server->add_roster_item("alice@example.test", "bob@example.test", test::Subscription::kBoth);
  server->add_roster_item("bob@example.test", "alice@example.test", test::Subscription::kBoth);
  if (!server->launch()) {
    *why = "prosody did not start: " + server->log();
    return nullptr;
  }
  return server;
}

#define START_OR_SKIP(var)                                                  \
  std::string var##_why;                                                    \
  auto var = start_server(&var##_why);                                      \
  if (!var) {                                                               \
    if (!test::ProsodyServer::find_executable()) GTEST_SKIP() << var##_why; \
    FAIL() << var##_why;                                                    \
  }

std::unique_ptr<test::TestClient> login_bob(const test::ProsodyServer& s, const char* resource) {
  std::string why;
  auto bob = test::TestClient::login(s.c2s_port(), "bob", kDomain, "pw", resource, &why);
  EXPECT_NE(bob, nullptr) << why;
  return bob;
}

bool sent_rpsync_request(const testing::Recorder& r) {
  for (const std::string& s : r.outgoing) {
    if (s.find("<enable") != std::string::npos || s.find("<sync") != std::string::npos ||
        s.find("<checkpoint") != std::string::npos || s.find("<disable") != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(PlainServer, LoginWithoutComponentSendsNoRpsyncRequest) {
  START_OR_SKIP(server);
  auto bob = login_bob(*server, "phone");
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->send_presence("away", "out"));

  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] {
    return alice.recorder().connected && alice.manager().discovery_done() &&
           alice.manager().cache().live().count("bob@example.test/phone") == 1;
  })) << server->log();
  alice.pump_for(milliseconds(1000));  // well past settle_quiet: enable would be due now

  EXPECT_EQ(alice.manager().component(), "");
  EXPECT_EQ(alice.manager().phase(), RpsyncManager::Phase::kPlain);
  EXPECT_EQ(alice.manager().enables_sent(), 0u);
  EXPECT_EQ(alice.manager().syncs_sent(), 0u);
  EXPECT_FALSE(sent_rpsync_request(alice.recorder()));
  ASSERT_EQ(alice.recorder().full_resyncs.size(), 1u);
  EXPECT_EQ(alice.recorder().full_resyncs[0].reason, FullResyncReason::kNoStoredState);
  ASSERT_EQ(alice.recorder().components.size(), 1u);
  EXPECT_EQ(alice.recorder().components[0], "");
  EXPECT_FALSE(record_of(store.load("alice@example.test")));

  const proto::PresenceFields& f = alice.manager().cache().live().at("bob@example.test/phone");
  EXPECT_EQ(f.show, proto::Show::kAway);
  EXPECT_EQ(f.status, "out");
}

TEST(PlainServer, FeatureIsAdvertisedInDiscoInfo) {
  START_OR_SKIP(server);
  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; }));

  auto bob = login_bob(*server, "desk");
  ASSERT_TRUE(bob);
  xml::Element iq("iq", std::string(ns::kClient));
  iq.set_attr("type", "get");
  iq.set_attr("id", "disco1");
  iq.set_attr("to", "alice@example.test/laptop");
  iq.add(xml::Element("query", std::string(ns::kDiscoInfo)));
  ASSERT_TRUE(bob->send(iq));
  alice.pump_for(milliseconds(500));  // alice answers inside recv()
  auto answer = bob->wait_for(
      [](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == "disco1"; },
      milliseconds(3000));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->attr("type"), "result");
  const xml::Element* query = answer->child("query", ns::kDiscoInfo);
  ASSERT_NE(query, nullptr);
  bool found = false;
  for (const auto& c : query->children())
    if (c.name() == "feature" && c.attr("var") == ns::kRpsync) found = true;
  EXPECT_TRUE(found) << xml::to_string(*answer);
}

TEST(PlainServer, LivePresenceKeepsCacheAndReportsChanges) {
  START_OR_SKIP(server);
  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; }));

  auto bob = login_bob(*server, "phone");
  ASSERT_TRUE(bob);
  const auto& live = alice.manager().cache().live();
  ASSERT_TRUE(bob->send_presence("", "hello"));
  ASSERT_TRUE(alice.pump([&] { return live.count("bob@example.test/phone") == 1; }));
  ASSERT_TRUE(bob->send_presence("dnd", "busy"));
  ASSERT_TRUE(alice.pump([&] {
    auto it = live.find("bob@example.test/phone");
    return it != live.end() && it->second.show == proto::Show::kDnd;
  }));
  bob->close();
  ASSERT_TRUE(alice.pump([&] { return live.empty(); }));

  const auto& p = alice.recorder().presence;
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].kind, PresenceChange::Kind::kAvailable);
  EXPECT_EQ(p[0].fields.status, "hello");
  EXPECT_EQ(p[1].kind, PresenceChange::Kind::kChanged);
  EXPECT_EQ(p[1].changed, proto::bit(proto::Field::kShow) | proto::bit(proto::Field::kStatus));
  EXPECT_EQ(p[2].kind, PresenceChange::Kind::kUnavailable);
}

TEST(PlainServer, FullLoginForgetsResourcesThatLeftWhileAway) {
  START_OR_SKIP(server);
  auto bob = login_bob(*server, "phone");
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->send_presence());
  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  const auto& live = alice.manager().cache().live();
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return live.count("bob@example.test/phone") == 1; }));
  alice.manager().logout();
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().disconnects == 1; }));
  bob->close();  // leaves while alice is away: nobody tells alice
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connects == 2; }));
  alice.pump_for(milliseconds(500));
  EXPECT_TRUE(live.empty()) << "a full login must not keep what the last session saw";
  EXPECT_EQ(alice.recorder().full_resyncs.size(), 2u);
}

TEST(PlainServer, StoredKeyIsSentBeforeInitialPresenceAndFailureFallsBack) {
  START_OR_SKIP(server);
  auto bob = login_bob(*server, "phone");
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->send_presence("chat", "now"));

  // State left by an earlier session, for a component that is not connected now.
  MemorySessionStore store;
  SavedSession saved;
  saved.component = "rpsync.example.test";
  saved.key = {"old-stream", "laptop", "old-iq"};
  saved.expires_at = 4'000'000'000;
  saved.state["bob@example.test/old"] = proto::PresenceFields{};
  ASSERT_TRUE(store.save("alice@example.test", saved).ok());

  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store);
  EXPECT_EQ(alice.manager().cache().live().size(), 1u);  // loaded from the store
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] {
    return alice.recorder().connected &&
           alice.manager().cache().live().count("bob@example.test/phone") == 1;
  })) << server->log();

  const auto& r = alice.recorder();
  const long sync_at = r.find_outgoing("<sync xmlns='urn:xmpp:rpsync:0'");
  const long roster_at = r.find_outgoing("jabber:iq:roster");
  const long presence_at = r.find_outgoing("<presence");
  ASSERT_GE(sync_at, 0);
  ASSERT_GE(presence_at, 0);
  EXPECT_LT(sync_at, roster_at) << "the sync leaves with the roster get, not after its result";
  EXPECT_LT(sync_at, presence_at);
  // The presence waits for the answer, not just for the request to go out.
  const std::string& sync_stanza = r.outgoing[static_cast<std::size_t>(sync_at)];
  const std::size_t id_at = sync_stanza.find("id='");
  ASSERT_NE(id_at, std::string::npos);
  const std::string sync_id =
      sync_stanza.substr(id_at, sync_stanza.find('\'', id_at + 4) + 1 - id_at);
  const long answer_on_wire = r.find_wire("<< ", sync_id);
  ASSERT_GE(answer_on_wire, 0) << sync_id;
  EXPECT_LT(answer_on_wire, r.find_wire(">> ", "<presence"))
      << "initial presence must wait for the sync answer";
  EXPECT_NE(r.outgoing[static_cast<std::size_t>(sync_at)].find(
                "<key stream='old-stream' resource='laptop' last='old-iq'/>"),
            std::string::npos)
      << r.outgoing[static_cast<std::size_t>(sync_at)];
  EXPECT_EQ(alice.manager().syncs_sent(), 1u);

  ASSERT_EQ(r.full_resyncs.size(), 1u);
  EXPECT_EQ(r.full_resyncs[0].reason, FullResyncReason::kKeyRejected);
  ASSERT_TRUE(r.full_resyncs[0].error);
  EXPECT_FALSE(record_of(store.load("alice@example.test"))) << "key and cache must be dropped";
  EXPECT_EQ(alice.manager().cache().live().count("bob@example.test/old"), 0u);

  // The failure told us the component is gone: discovery runs and finds none.
  ASSERT_TRUE(alice.pump([&] { return alice.manager().discovery_done(); }));
  alice.pump_for(milliseconds(800));
  EXPECT_EQ(alice.manager().enables_sent(), 0u);
  EXPECT_EQ(alice.manager().phase(), RpsyncManager::Phase::kPlain);
}

TEST(PlainServer, ResumeWithinTimeoutSendsNoSync) {
  START_OR_SKIP(server);
  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store,
                     testing::fast_options(), /*stream_management=*/true);
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; }));
  alice.pump_for(milliseconds(300));  // let <enabled/> for XEP-0198 arrive
  const std::size_t sent_before = alice.recorder().outgoing.size();

  alice.client().abort_connection();
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().disconnects == 1; }));
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connects == 2; })) << server->log();

  const auto& r = alice.recorder();
  EXPECT_EQ(r.resumed, 1);
  EXPECT_TRUE(alice.client().resumed());
  EXPECT_EQ(alice.manager().syncs_sent(), 0u);
  EXPECT_EQ(r.full_resyncs.size(), 1u) << "a resumed stream is not a new login";
  EXPECT_GE(r.find_outgoing("<resume", sent_before), 0);
  EXPECT_EQ(r.find_outgoing("jabber:iq:roster", sent_before), -1);
  EXPECT_EQ(r.find_outgoing("<presence", sent_before), -1);
}

TEST(PlainServer, FailedResumeContinuesWithNormalLogin) {
  START_OR_SKIP(server);
  MemorySessionStore store;
  GlooxSession alice("alice@example.test/laptop", "pw", server->c2s_port(), &store,
                     testing::fast_options(), /*stream_management=*/true);
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connected; }));
  alice.pump_for(milliseconds(300));

  alice.client().abort_connection();
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().disconnects == 1; }));
  ASSERT_TRUE(server->restart());  // the hibernating session is gone: resume must fail
  const std::size_t sent_before = alice.recorder().outgoing.size();
  ASSERT_TRUE(alice.connect());
  ASSERT_TRUE(alice.pump([&] { return alice.recorder().connects == 2; })) << server->log();

  const auto& r = alice.recorder();
  EXPECT_EQ(r.resumed, 0);
  EXPECT_FALSE(alice.client().resumed());
  const long resume_at = r.find_outgoing("<resume", sent_before);
  ASSERT_GE(resume_at, 0);
  EXPECT_EQ(std::count(r.events.begin(), r.events.end(), "sm-resume-failed"), 1);
  // After the failed resume the same stream binds a resource and asks for SM again.
  EXPECT_GE(
      r.find_outgoing("urn:ietf:params:xml:ns:xmpp-bind", static_cast<std::size_t>(resume_at)), 0);
  EXPECT_GE(r.find_outgoing("<enable xmlns='urn:xmpp:sm:3'", static_cast<std::size_t>(resume_at)),
            0);
  EXPECT_GE(r.find_outgoing("jabber:iq:roster", sent_before), 0);
  EXPECT_GE(r.find_outgoing("<presence", sent_before), 0);
  EXPECT_EQ(r.full_resyncs.size(), 2u);
}

}  // namespace
}  // namespace rpsync::client
