// SPDX-License-Identifier: MIT
// The libstrophe binding's lifecycle (client_strophe/session.h) against a recording
// transport: full login and enable, sync before the held presence, the marker, every
// fallback with its reason, misuse.
#include "client_strophe/session.h"

#include <gtest/gtest.h>

#include <memory>

#include "client_ext/store.h"
#include "client_strophe/own_disco.h"
#include "protocol/delta.h"
#include "protocol/error.h"
#include "protocol/marker.h"
#include "protocol/ns.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "protocol/sync.h"
#include "tests/client_strophe/recording_transport.h"

namespace rpsync::strophe {
namespace {

using testing::ManualClock;
using testing::result;
constexpr const char* kMe = "alice@example.test/phone";
constexpr const char* kComponent = "rpsync.example.test";

proto::PresenceFields shown(proto::Show s, std::string status = {}) {
  proto::PresenceFields f;
  f.show = s;
  f.status = std::move(status);
  return f;
}

xml::Element presence_from(const std::string& from, std::optional<proto::Show> show) {
  xml::Element p("presence", "jabber:client");
  p.set_attr("from", from);
  if (!show) {
    p.set_attr("type", "unavailable");
  } else if (*show != proto::Show::kNone) {
    p.add(xml::Element("show", "jabber:client")).set_text(std::string(proto::to_string(*show)));
  }
  return p;
}

class SessionTest : public ::testing::Test {
 protected:
  Options options() {
    Options o;
    o.component = kComponent;
    o.now = [this] { return clock.t; };
    o.unix_now = [this] { return unix_now; };
    return o;
  }
  void make() {
    session = std::make_unique<Session>(kMe, options(), transport, events);
    session->use_stores(&store, nullptr);
  }
  void store_key(proto::PresenceState state, std::int64_t expires_at = 2'000'000) {
    client::SavedSession s{
        kComponent, {"oldstream", "phone", "old-last"}, expires_at, std::move(state)};
    ASSERT_TRUE(store.save("alice@example.test", s).ok());
  }
  void answer_server_info(bool synced) {
    const xml::Element* q = transport.last_iq("query", ns::kDiscoInfo);
    ASSERT_NE(q, nullptr);
    xml::Element info("query", std::string(ns::kDiscoInfo));
    if (synced) {
      info.add(xml::Element("feature", std::string(ns::kDiscoInfo)))
          .set_attr("var", std::string(proto::kSyncedFeature));
    }
    session->on_stanza(result(std::string(*q->attr("id")), "example.test", info), 100);
  }
  std::string sync_id() {
    const xml::Element* s = transport.last_iq("sync", ns::kRpsync);
    return s != nullptr ? std::string(*s->attr("id")) : std::string();
  }
  void answer_sync(const proto::PresenceState& before, const proto::PresenceState& after,
                   bool wrong_digest = false) {
    proto::Delta d = proto::diff(before, after);
    d.lifetime = 3600;
    if (wrong_digest) d.state = proto::digest_of({{"x@y/z", {}}});
    session->on_stanza(result(sync_id(), kComponent, proto::to_xml(d)), 300);
  }
  xml::Element initial() { return xml::Element("presence", "jabber:client"); }
  // A stored key for `state`, a login whose sync finds nothing changed, and the initial
  // presence sent marked (the server has the gate).
  void marked_after_empty_delta(const proto::PresenceState& state) {
    store_key(state);
    make();
    session->on_login(kMe, false);
    ASSERT_TRUE(session->send_initial_presence(initial()));
    answer_server_info(true);
    answer_sync(state, state);
  }

  ManualClock clock;
  std::int64_t unix_now = 1'000'000;
  testing::RecordingTransport transport;
  testing::RecordingEvents events;
  client::MemorySessionStore store;
  std::unique_ptr<Session> session;
};

TEST_F(SessionTest, FirstLoginIsFullAndEnablesOnceTheFloodSettled) {
  make();
  session->on_login(kMe, false);
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kNoStoredState);
  EXPECT_EQ(transport.count("sync", ns::kRpsync), 0u);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  ASSERT_EQ(transport.presences().size(), 1u);  // a full login holds nothing
  EXPECT_EQ(transport.presences()[0]->child("synced", ns::kRpsync), nullptr);

  session->on_stanza(presence_from("bob@example.test/desk", proto::Show::kAway), 90);
  ASSERT_EQ(events.live.size(), 1u);
  clock.advance(Ms(1000));
  session->tick();
  EXPECT_EQ(transport.count("enable", ns::kRpsync), 0u) << "the flood has not settled";
  clock.advance(Ms(600));
  session->tick();
  const xml::Element* enable = transport.last_iq("enable", ns::kRpsync);
  ASSERT_NE(enable, nullptr);
  EXPECT_EQ(enable->attr("to"), std::optional<std::string_view>(kComponent));
  const std::string stream(*enable->child("enable", ns::kRpsync)->attr("stream"));
  EXPECT_EQ(stream, session->session_id());
  EXPECT_EQ(stream.size(), 32u);

  const proto::PresenceState seen{{"bob@example.test/desk", shown(proto::Show::kAway)}};
  proto::Enabled enabled{3600, proto::digest_of(seen)};
  session->on_stanza(result(std::string(*enable->attr("id")), kComponent, proto::to_xml(enabled)),
                     200);
  ASSERT_EQ(events.enables, std::vector<bool>{true});
  EXPECT_EQ(session->phase(), Phase::kOnline);
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->state, seen);
  EXPECT_EQ((*saved)->key.stream, stream);
  EXPECT_EQ((*saved)->expires_at, unix_now + 3600);
}

TEST_F(SessionTest, ReconnectSyncsBeforeTheHeldPresenceAndMarksIt) {
  const proto::PresenceState before{{"bob@example.test/desk", shown(proto::Show::kAway)},
                                    {"carol@example.test/phone", {}}};
  const proto::PresenceState after{{"bob@example.test/desk", shown(proto::Show::kNone, "back")},
                                   {"dave@other.test/desk", shown(proto::Show::kDnd)}};
  store_key(before);
  make();
  session->on_login(kMe, false);
  const xml::Element* sync = transport.last_iq("sync", ns::kRpsync);
  ASSERT_NE(sync, nullptr);
  auto parsed = proto::parse_sync(*sync->child("sync", ns::kRpsync));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->key, (proto::SyncKey{"oldstream", "phone", "old-last"}));
  EXPECT_EQ(parsed->stream, session->session_id());
  EXPECT_NE(parsed->stream, "oldstream");

  ASSERT_TRUE(session->send_initial_presence(initial()));
  EXPECT_TRUE(transport.presences().empty()) << "held while the sync is outstanding";
  answer_server_info(true);
  EXPECT_TRUE(transport.presences().empty());
  answer_sync(before, after);
  ASSERT_EQ(events.synced_stats.size(), 1u);
  EXPECT_EQ(events.synced_stats[0].items, 3u);  // bob changed, carol gone, dave new
  EXPECT_EQ(events.synced_changes.size(), 3u);
  EXPECT_EQ(session->cache().live(), after);
  ASSERT_EQ(transport.presences().size(), 1u);
  EXPECT_NE(transport.presences()[0]->child("synced", ns::kRpsync), nullptr);
  EXPECT_TRUE(session->presence_marked());
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->state, after);
  EXPECT_EQ((*saved)->key, (proto::SyncKey{session->session_id(), "phone", sync_id()}));

  // The server reflects the marked presence: a checkpoint verifies the state.
  session->on_stanza(presence_from(kMe, proto::Show::kNone), 60);
  EXPECT_EQ(transport.count("checkpoint", ns::kRpsync), 1u);
}

// The server's confirmation on the reflection (spec: "Confirmation by the Server")
// verifies the state: no checkpoint. The same element on a contact's presence, or on a
// later presence of its own, is no confirmation.
TEST_F(SessionTest, AConfirmedReflectionNeedsNoCheckpoint) {
  marked_after_empty_delta({{"bob@example.test/desk", {}}});
  xml::Element from_bob = presence_from("bob@example.test/desk", proto::Show::kAway);
  from_bob.add(proto::synced_marker());
  session->on_stanza(from_bob, 90);
  EXPECT_FALSE(session->presence_confirmed()) << "a contact's presence confirmed the state";
  xml::Element reflection = presence_from(kMe, proto::Show::kNone);
  reflection.add(proto::synced_marker());
  session->on_stanza(reflection, 90);
  EXPECT_TRUE(session->presence_confirmed());
  EXPECT_EQ(transport.count("checkpoint", ns::kRpsync), 0u);
  EXPECT_EQ(session->cache().live().size(), 1u) << "bob's presence still counts as presence";
}

TEST_F(SessionTest, AnUnconfirmedReflectionIsVerifiedByACheckpoint) {
  marked_after_empty_delta({{"bob@example.test/desk", {}}});
  session->on_stanza(presence_from(kMe, proto::Show::kNone), 60);
  EXPECT_FALSE(session->presence_confirmed());
  EXPECT_EQ(transport.count("checkpoint", ns::kRpsync), 1u);
}

TEST_F(SessionTest, AMarkedPresenceThatDisagreesIsSentAgainUnmarked) {
  marked_after_empty_delta({{"bob@example.test/desk", {}}});
  session->on_stanza(presence_from(kMe, proto::Show::kNone), 60);
  const xml::Element* cp = transport.last_iq("checkpoint", ns::kRpsync);
  ASSERT_NE(cp, nullptr);
  proto::Checkpointed other{proto::digest_of({})};
  session->on_stanza(result(std::string(*cp->attr("id")), kComponent, proto::to_xml(other)), 90);
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kDigestMismatch);
  const auto p = transport.presences();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[1]->attr("type"), std::optional<std::string_view>("unavailable"));
  EXPECT_EQ(p[2]->child("synced", ns::kRpsync), nullptr);
  EXPECT_TRUE(session->cache().live().empty());
}

TEST_F(SessionTest, WithoutTheGateThePresenceIsNotMarked) {
  const proto::PresenceState state{{"bob@example.test/desk", {}}};
  store_key(state);
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  answer_sync(state, state);
  EXPECT_TRUE(transport.presences().empty()) << "waits for the server's features";
  answer_server_info(false);
  ASSERT_EQ(transport.presences().size(), 1u);
  EXPECT_EQ(transport.presences()[0]->child("synced", ns::kRpsync), nullptr);
}

TEST_F(SessionTest, AWrongDigestFallsBackToAFullLogin) {
  const proto::PresenceState state{{"bob@example.test/desk", {}}};
  store_key(state);
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  answer_server_info(true);
  answer_sync(state, {{"bob@example.test/desk", shown(proto::Show::kXa)}}, true);
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kDigestMismatch);
  ASSERT_EQ(transport.presences().size(), 1u);
  EXPECT_EQ(transport.presences()[0]->child("synced", ns::kRpsync), nullptr);
  EXPECT_TRUE(session->cache().live().empty());
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(*saved) << "the unusable key is dropped";
  EXPECT_EQ(session->phase(), Phase::kSettling);
}

TEST_F(SessionTest, ARejectedKeyFallsBackWithTheComponentsReason) {
  store_key({});
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  xml::Element err = result(sync_id(), kComponent);
  err.set_attr("type", "error");
  err.add(proto::to_xml(proto::make_error(proto::AppCondition::kUnknownKey), "jabber:client"));
  session->on_stanza(err, 200);
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kKeyRejected);
  EXPECT_NE(events.full_resyncs[0].detail.find("unknown-key"), std::string::npos)
      << events.full_resyncs[0].detail;
  EXPECT_EQ(transport.presences().size(), 1u);
}

TEST_F(SessionTest, AnUnansweredSyncTimesOutIntoAFullLogin) {
  store_key({});
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  clock.advance(Ms(9999));
  session->tick();
  EXPECT_TRUE(events.full_resyncs.empty());
  clock.advance(Ms(1));
  session->tick();
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kTimeout);
  EXPECT_EQ(transport.presences().size(), 1u);
}

TEST_F(SessionTest, ASyncWhoseAnswerNeverArrivedKeepsTheKeyForTheNextLogin) {
  const proto::PresenceState before{{"bob@example.test/desk", shown(proto::Show::kAway)}};
  const proto::PresenceState after{{"bob@example.test/desk", shown(proto::Show::kDnd)}};
  store_key(before);
  make();
  session->on_login(kMe, false);
  ASSERT_EQ(transport.count("sync", ns::kRpsync), 1u);
  const std::string first_session = session->session_id();
  session->on_disconnect();  // the component's answer was lost with the connection
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->key, (proto::SyncKey{"oldstream", "phone", "old-last"}));
  EXPECT_EQ((*saved)->state, before);

  session->on_login(kMe, false);  // the next login syncs with the same key
  ASSERT_EQ(transport.count("sync", ns::kRpsync), 2u);
  auto parsed =
      proto::parse_sync(*transport.last_iq("sync", ns::kRpsync)->child("sync", ns::kRpsync));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->key, (proto::SyncKey{"oldstream", "phone", "old-last"}));
  EXPECT_NE(parsed->stream, first_session);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  answer_server_info(true);
  answer_sync(before, after);
  EXPECT_TRUE(events.full_resyncs.empty());
  EXPECT_EQ(session->cache().live(), after);
  saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->key, (proto::SyncKey{session->session_id(), "phone", sync_id()}));
}

TEST_F(SessionTest, AnExpiredKeyIsNotSent) {
  store_key({}, unix_now);
  make();
  session->on_login(kMe, false);
  EXPECT_EQ(transport.count("sync", ns::kRpsync), 0u);
  ASSERT_EQ(events.full_resyncs.size(), 1u);
  EXPECT_EQ(events.full_resyncs[0].reason, client::FullResyncReason::kKeyExpired);
}

TEST_F(SessionTest, GracefulLogoutCheckpointsThenCloses) {
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->send_initial_presence(initial()));
  clock.advance(Ms(2000));
  session->tick();
  const xml::Element* enable = transport.last_iq("enable", ns::kRpsync);
  ASSERT_NE(enable, nullptr);
  session->on_stanza(result(std::string(*enable->attr("id")), kComponent,
                            proto::to_xml(proto::Enabled{60, proto::digest_of({})})),
                     100);
  ASSERT_TRUE(session->logout());
  EXPECT_EQ(session->phase(), Phase::kLoggingOut);
  EXPECT_EQ(transport.disconnects, 0);
  const xml::Element* cp = transport.last_iq("checkpoint", ns::kRpsync);
  ASSERT_NE(cp, nullptr);
  session->on_stanza(result(std::string(*cp->attr("id")), kComponent,
                            proto::to_xml(proto::Checkpointed{proto::digest_of({})})),
                     100);
  EXPECT_EQ(transport.disconnects, 1);
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->key.last, std::string(*cp->attr("id")));
}

// A full login enabled with an empty presence state.
void enable_empty(Session& s, testing::RecordingTransport& t, ManualClock& clock) {
  s.on_login(kMe, false);
  ASSERT_TRUE(s.send_initial_presence(xml::Element("presence", "jabber:client")));
  clock.advance(Ms(2000));
  s.tick();
  const xml::Element* enable = t.last_iq("enable", ns::kRpsync);
  ASSERT_NE(enable, nullptr);
  s.on_stanza(result(std::string(*enable->attr("id")), kComponent,
                     proto::to_xml(proto::Enabled{60, proto::digest_of({})})),
              100);
  ASSERT_EQ(s.phase(), Phase::kOnline);
}

TEST_F(SessionTest, APresenceChangeIsCheckpointedOnceQuiet) {
  make();
  enable_empty(*session, transport, clock);
  session->on_stanza(presence_from("bob@example.test/desk", proto::Show::kAway), 80);
  clock.advance(Ms(4900));
  session->tick();
  EXPECT_EQ(transport.count("checkpoint", ns::kRpsync), 0u);
  clock.advance(Ms(100));
  session->tick();
  const xml::Element* cp = transport.last_iq("checkpoint", ns::kRpsync);
  ASSERT_NE(cp, nullptr);
  const proto::PresenceState seen{{"bob@example.test/desk", shown(proto::Show::kAway)}};
  session->on_stanza(result(std::string(*cp->attr("id")), kComponent,
                            proto::to_xml(proto::Checkpointed{proto::digest_of(seen)})),
                     100);
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->state, seen);
  EXPECT_EQ((*saved)->key.last, std::string(*cp->attr("id")));
}

TEST_F(SessionTest, DisableDropsTheKeyAndTellsTheComponent) {
  make();
  enable_empty(*session, transport, clock);
  ASSERT_TRUE(session->disable());
  EXPECT_EQ(transport.count("disable", ns::kRpsync), 1u);
  EXPECT_EQ(session->phase(), Phase::kPlain);
  auto saved = store.load("alice@example.test");
  ASSERT_TRUE(saved.ok());
  EXPECT_FALSE(*saved);
}

TEST_F(SessionTest, CallsInTheWrongStateAreRefused) {
  make();
  EXPECT_FALSE(session->send_initial_presence(initial())) << "not connected";
  EXPECT_FALSE(session->roster_request());
  EXPECT_FALSE(session->logout());
  EXPECT_FALSE(session->disable());
  session->on_login(kMe, false);
  EXPECT_FALSE(session->open_state(::testing::TempDir() + "/never.db").ok()) << "online";
  xml::Element directed = initial();
  directed.set_attr("to", "bob@example.test");
  EXPECT_FALSE(session->send_initial_presence(directed));
  xml::Element message("message", "jabber:client");
  EXPECT_FALSE(session->send_initial_presence(message));
  EXPECT_TRUE(session->roster_request());
  EXPECT_FALSE(session->roster_request()) << "once per login";
  EXPECT_TRUE(session->send_initial_presence(initial()));
  EXPECT_FALSE(session->send_initial_presence(initial())) << "once per login";
  EXPECT_TRUE(transport.presences().empty()) << "waits for the requested roster";
}

TEST_F(SessionTest, ARosterErrorStillReleasesThePresence) {
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->roster_request());
  ASSERT_TRUE(session->send_initial_presence(initial()));
  EXPECT_TRUE(transport.presences().empty());
  const xml::Element* get = transport.last_iq("query", ns::kRoster);
  ASSERT_NE(get, nullptr);
  xml::Element err = result(std::string(*get->attr("id")), "");
  err.set_attr("type", "error");
  err.add(proto::to_xml(proto::bad_request("no"), "jabber:client"));
  session->on_stanza(err, 100);
  EXPECT_EQ(transport.presences().size(), 1u);
  EXPECT_TRUE(events.rosters.empty());
}

TEST_F(SessionTest, OnlyRosterContactsEnterThePresenceView) {
  make();
  session->on_login(kMe, false);
  ASSERT_TRUE(session->roster_request());
  const xml::Element* get = transport.last_iq("query", ns::kRoster);
  ASSERT_NE(get, nullptr);
  xml::Element query("query", std::string(ns::kRoster));
  query.add(xml::Element("item", std::string(ns::kRoster)))
      .set_attr("jid", "bob@example.test")
      .set_attr("subscription", "both");
  query.add(xml::Element("item", std::string(ns::kRoster)))
      .set_attr("jid", "eve@example.test")
      .set_attr("subscription", "from");
  session->on_stanza(result(std::string(*get->attr("id")), "", query), 200);
  session->on_stanza(presence_from("bob@example.test/desk", proto::Show::kNone), 50);
  session->on_stanza(presence_from("eve@example.test/desk", proto::Show::kNone), 50);
  session->on_stanza(presence_from("alice@example.test/laptop", proto::Show::kNone), 50);
  ASSERT_EQ(session->cache().live().size(), 1u);
  EXPECT_EQ(session->cache().live().begin()->first, "bob@example.test/desk");
  session->on_stanza(presence_from("bob@example.test/desk", std::nullopt), 50);
  EXPECT_TRUE(session->cache().live().empty());
}

TEST_F(SessionTest, WithoutAStateFileTheRosterIsCachedForTheHandlesLifetime) {
  session = std::make_unique<Session>(kMe, options(), transport, events);  // no stores given
  session->on_login(kMe, false);
  ASSERT_TRUE(session->roster_request());
  const xml::Element* get = transport.last_iq("query", ns::kRoster);
  ASSERT_NE(get, nullptr);
  const xml::Element* first = get->child("query", ns::kRoster);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->attr("ver"), std::optional<std::string_view>("")) << "bootstrap";
  xml::Element query("query", std::string(ns::kRoster));
  query.set_attr("ver", "v7");
  query.add(xml::Element("item", std::string(ns::kRoster)))
      .set_attr("jid", "bob@example.test")
      .set_attr("subscription", "both");
  session->on_stanza(result(std::string(*get->attr("id")), "", query), 200);
  session->on_disconnect();

  session->on_login(kMe, false);
  ASSERT_TRUE(session->roster_request());
  get = transport.last_iq("query", ns::kRoster);
  ASSERT_NE(get, nullptr);
  const xml::Element* second = get->child("query", ns::kRoster);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->attr("ver"), std::optional<std::string_view>("v7"));
  session->on_stanza(result(std::string(*get->attr("id")), ""), 60);  // unchanged
  ASSERT_EQ(events.roster_from_cache, (std::vector<bool>{false, true}));
  ASSERT_EQ(events.rosters.size(), 2u);
  ASSERT_EQ(events.rosters[1].items.size(), 1u);
  EXPECT_EQ(events.rosters[1].items[0].jid, "bob@example.test");
}

TEST_F(SessionTest, TheClientAnswersDiscoInfoWithTheFeature) {
  make();
  session->on_login(kMe, false);
  xml::Element get("iq", "jabber:client");
  get.set_attr("type", "get");
  get.set_attr("id", "d1");
  get.set_attr("from", "bob@example.test/desk");
  get.add(xml::Element("query", std::string(ns::kDiscoInfo))).set_attr("node", "n#v");
  session->on_stanza(get, 100);
  const xml::Element& answer = transport.sent.back();
  EXPECT_EQ(answer.attr("type"), std::optional<std::string_view>("result"));
  EXPECT_EQ(answer.attr("to"), std::optional<std::string_view>("bob@example.test/desk"));
  const xml::Element* q = answer.child("query", ns::kDiscoInfo);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->attr("node"), std::optional<std::string_view>("n#v"));
  bool has_rpsync = false;
  for (const auto& f : q->children()) has_rpsync |= f.attr("var") == ns::kRpsync;
  EXPECT_TRUE(has_rpsync);
}

}  // namespace
}  // namespace rpsync::strophe

namespace rpsync::strophe {
namespace {

// XEP-0115 5.1 over identity client/pc and the three features, computed independently
// (SHA-1, base64 of "client/pc//<caps<disco#info<urn:xmpp:rpsync:0<").
TEST(OwnDisco, CapsVerCoversTheRpsyncFeature) {
  EXPECT_EQ(caps_ver(own_features()), "qK+hjsEarNTdZN0O7bcZe++Ap/s=");
  std::vector<std::string> without = own_features();
  std::erase(without, std::string(ns::kRpsync));
  EXPECT_NE(caps_ver(without), caps_ver(own_features()));
}

}  // namespace
}  // namespace rpsync::strophe
