// SPDX-License-Identifier: MIT
// The service's dispatch and request pipeline with the real engine and an in-memory store.
// The transport is a recording fake: the test plays the server, answering roster fetches.
#include <gtest/gtest.h>

#include "protocol/delta.h"
#include "protocol/limits.h"
#include "protocol/ns.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture

TEST_F(ServiceTest, DiscoInfoAdvertisesTheService) {
  iq("alice@example.test/phone", "d1", "<query xmlns='http://jabber.org/protocol/disco#info'/>",
     "get");
  auto r = transport.take();
  EXPECT_EQ(r.attr("type"), "result");
  EXPECT_EQ(r.attr("to"), "alice@example.test/phone");
  EXPECT_EQ(r.attr("from"), "rpsync.example.test");
  EXPECT_EQ(r.attr("id"), "d1");
  const auto* q = r.child("query", ns::kDiscoInfo);
  ASSERT_TRUE(q);
  const auto* identity = q->child("identity");
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->attr("category"), "component");
  EXPECT_EQ(identity->attr("type"), "presence");
  std::set<std::string> features;
  for (const auto& f : q->children())
    if (f.name() == "feature") features.insert(std::string(*f.attr("var")));
  EXPECT_TRUE(features.count(std::string(ns::kRpsync)));
  EXPECT_TRUE(features.count(std::string(ns::kPing)));
  EXPECT_TRUE(features.count(std::string(ns::kVersion)));
}

TEST_F(ServiceTest, PingVersionAndUnknownIqs) {
  iq("alice@example.test/phone", "p", "<ping xmlns='urn:xmpp:ping'/>", "get");
  EXPECT_EQ(transport.take().attr("type"), "result");
  iq("alice@example.test/phone", "v", "<query xmlns='jabber:iq:version'/>", "get");
  auto v = transport.take();
  EXPECT_EQ(v.child("query", ns::kVersion)->child_text("name"), "rpsync");
  iq("alice@example.test/phone", "u", "<query xmlns='urn:unknown'/>", "get");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kServiceUnavailable);
  iq("alice@example.test/phone", "x", "<frob xmlns='urn:xmpp:rpsync:0'/>");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kFeatureNotImplemented);
}

TEST_F(ServiceTest, EnableFetchesTheRosterAndAnswersWithTheVisibleState) {
  presence("bob@example.test/laptop", "<show>away</show>");
  presence("carol@other.test/pc");
  presence("mallory@example.test/x");  // subscription 'from': never visible to alice
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  EXPECT_TRUE(transport.sent.empty()) << "no answer before the roster is known";
  ASSERT_EQ(transport.requests.size(), 1u);
  EXPECT_EQ(transport.requests[0].iq.attr("to"), "alice@example.test");
  transport.answer_roster(roster);
  auto r = transport.take();
  EXPECT_EQ(r.attr("type"), "result");
  auto enabled = proto::parse_enabled(*rpsync_child(r));
  ASSERT_TRUE(enabled.ok());
  proto::PresenceState expected;
  proto::PresenceFields away;
  away.show = proto::Show::kAway;
  expected["bob@example.test/laptop"] = away;
  expected["carol@other.test/pc"] = {};
  EXPECT_EQ(enabled->state, proto::digest_of(expected));
  EXPECT_EQ(service->counters().enables, 1u);
}

TEST_F(ServiceTest, ReconnectSyncReturnsExactlyTheChanges) {
  presence("bob@example.test/laptop", "<show>away</show>");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  auto enabled = proto::parse_enabled(*rpsync_child(transport.take()));
  ASSERT_TRUE(enabled.ok());
  proto::PresenceState client = engine->view("alice@example.test");

  presence("bob@example.test/laptop", "<status>lunch</status>");  // show removed, status set
  presence("carol@other.test/pc", "<priority>5</priority>");      // new
  iq("alice@example.test/tablet", "sy1",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  auto r = transport.take();
  ASSERT_EQ(r.attr("type"), "result") << xml::to_string(r);
  auto delta = proto::parse_delta(*rpsync_child(r));
  ASSERT_TRUE(delta.ok()) << delta.error().text;
  EXPECT_EQ(delta->added.size(), 1u) << xml::to_string(r);
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].set, proto::bit(proto::Field::kStatus));
  EXPECT_EQ(delta->changed[0].unset, proto::bit(proto::Field::kShow));
  ASSERT_TRUE(proto::apply(client, *delta));
  EXPECT_EQ(proto::digest_of(client), delta->state);
  EXPECT_EQ(client, engine->view("alice@example.test"));
  EXPECT_EQ(service->counters().deltas, 1u);
  EXPECT_GT(service->counters().full_bytes, 0u);

  // The new session's checkpoint quoting the sync's id proves the result arrived: the old
  // key is retired then; the new session's key (s2, tablet, sy1) works.
  iq("alice@example.test/tablet", "cp1",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s2' prev='sy1'/>");
  transport.answer_roster(roster);
  EXPECT_EQ(transport.take().attr("type"), "result");
  iq("alice@example.test/tablet", "sy2",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s3'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kUnknownKey);
  iq("alice@example.test/tablet", "sy3",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s3'><key stream='s2' resource='tablet' "
     "last='sy1'/></sync>");
  transport.answer_roster(roster);
  auto empty = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

// A status longer than a delta may carry is cut by the field rules when the presence is
// read, so the sync still succeeds (one contact's long status must not fail his contacts'
// syncs) and the delta carries what the client's own reading of that presence holds.
TEST_F(ServiceTest, ALongStatusIsCutAndTheSyncSucceeds) {
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  proto::PresenceState client = engine->view("alice@example.test");
  presence("bob@example.test/laptop", "<status>" + std::string(2000, 'x') + "</status>");
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  auto r = transport.take();
  ASSERT_EQ(r.attr("type"), "result") << xml::to_string(r).substr(0, 300);
  auto delta = proto::parse_delta(*rpsync_child(r));
  ASSERT_TRUE(delta.ok()) << delta.error().text;
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].values.status, std::string(proto::kDefaultLimits.max_status, 'x'));
  ASSERT_TRUE(proto::apply(client, *delta));
  EXPECT_EQ(proto::digest_of(client), delta->state);
}

TEST_F(ServiceTest, OnlyUsersOfServedDomainsAreServed) {
  iq("eve@evil.test/x", "e1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  auto err = error_of(transport.take());
  EXPECT_EQ(err.condition, Condition::kForbidden);
  EXPECT_EQ(err.type, proto::ErrorType::kAuth);
  iq("example.test", "e2", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kForbidden);
  EXPECT_TRUE(transport.requests.empty()) << "no roster fetch for a refused request";
}

TEST_F(ServiceTest, MalformedRequestsGetBadRequest) {
  iq("alice@example.test/phone", "b1", "<enable xmlns='urn:xmpp:rpsync:0'/>");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kBadRequest);
  iq("alice@example.test/phone", "b2", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>", "get");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kBadRequest);
}

TEST_F(ServiceTest, CheckpointOutOfOrderAndNotEnabled) {
  iq("alice@example.test/phone", "c0",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='x'/>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kNotEnabled);
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  iq("alice@example.test/phone", "c1",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='nope'/>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kOutOfOrder);
  iq("alice@example.test/phone", "c2",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='en1'/>");
  transport.answer_roster(roster);
  EXPECT_EQ(transport.take().attr("type"), "result");
}

TEST_F(ServiceTest, RateLimitPerUserPerMinute) {
  for (int i = 0; i < 5; ++i)
    iq("alice@example.test/phone", "r" + std::to_string(i), "<enable xmlns='urn:xmpp:rpsync:0'/>");
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(error_of(transport.take()).condition, Condition::kBadRequest);
  iq("alice@example.test/phone", "r5", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kRateLimited);
  EXPECT_EQ(err.type, proto::ErrorType::kWait);
  iq("bob@example.test/pc", "b", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  EXPECT_EQ(transport.requests.size(), 1u) << "other users are not limited";
  now_ms += 60'000;
  iq("alice@example.test/phone", "r6", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  EXPECT_EQ(transport.requests.size(), 2u) << "a new minute, a new window";
}

TEST_F(ServiceTest, NotReadyWithoutPrivilegesOrConnection) {
  service->on_connected(false);
  iq("alice@example.test/phone", "n1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kNotReady);
  EXPECT_NE(err.text.find("privileges"), std::string::npos);
}

TEST_F(ServiceTest, RosterFetchFailureIsNotReady) {
  iq("alice@example.test/phone", "f1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>");
  ASSERT_EQ(transport.requests.size(), 1u);
  transport.requests.front().done(proto::make_error(AppCondition::kNotReady, "timeout"));
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kNotReady);
}

TEST_F(ServiceTest, ForbiddenRosterFetchMeansPrivilegesLost) {
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  iq("alice@example.test/phone", "c1",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='en1'/>");
  transport.requests.front().done(
      proto::StanzaError{proto::ErrorType::kAuth, Condition::kForbidden, AppCondition::kNone, ""});
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kNotReady);
  EXPECT_FALSE(service->ready());
  service->on_privileges(true);
  iq("alice@example.test/tablet", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost)
      << "presence may have been missed while the privileges were gone";
}

TEST_F(ServiceTest, RequestsOfOneUserRunOneAtATime) {
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  iq("alice@example.test/phone", "c1",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='en1'/>");
  EXPECT_EQ(transport.requests.size(), 1u) << "the checkpoint waits for the enable";
  transport.answer_roster(roster);
  EXPECT_EQ(transport.take().attr("id"), "en1");
  transport.answer_roster(roster);
  auto c = transport.take();
  EXPECT_EQ(c.attr("id"), "c1");
  EXPECT_EQ(c.attr("type"), "result");
}

TEST_F(ServiceTest, DisconnectIsAGapAndDropsLateRosterReplies) {
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  iq("alice@example.test/phone", "c1",
     "<checkpoint xmlns='urn:xmpp:rpsync:0' stream='s1' prev='en1'/>");
  service->on_disconnected();
  transport.answer_roster(roster);  // arrives after the gap: ignored
  EXPECT_TRUE(transport.sent.empty());
  service->on_connected(true);
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost);
  EXPECT_EQ(service->counters().failures.at("continuity-lost"), 1u);
}

TEST_F(ServiceTest, OversizedRequestGetsPolicyViolation) {
  service->on_skipped(stanza("<iq type='set' id='big' from='alice@example.test/phone' "
                             "to='rpsync.example.test'/>"),
                      xml::SkipReason::kBytes);
  auto err = error_of(transport.take());
  EXPECT_EQ(err.condition, Condition::kPolicyViolation);
  EXPECT_EQ(err.app, AppCondition::kStanzaTooBig);
  EXPECT_TRUE(transport.sent.empty());
}

TEST_F(ServiceTest, RequestsOverTheByteLimitGetStanzaTooBig) {
  std::string pad;
  for (int i = 0; i < 200; ++i) pad += "<x xmlns='urn:pad'>" + std::string(100, 'p') + "</x>";
  iq("alice@example.test/phone", "big", "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>" + pad);
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kStanzaTooBig);
  EXPECT_TRUE(transport.requests.empty());
}

TEST_F(ServiceTest, SkippedIqResultIsNotAnswered) {
  for (auto why : {xml::SkipReason::kBytes, xml::SkipReason::kDepth, xml::SkipReason::kAttributes})
    service->on_skipped(stanza("<iq type='result' id='r' from='alice@example.test/phone'/>"), why);
  service->on_skipped(stanza("<message from='alice@example.test/phone'/>"),
                      xml::SkipReason::kDepth);
  EXPECT_TRUE(transport.sent.empty());
  EXPECT_EQ(service->counters().oversized, 4u);
}

TEST_F(ServiceTest, UnreadablePresenceMakesOnlyItsSenderUnknown) {
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  service->on_skipped(stanza("<presence from='bob@example.test/laptop'/>"),
                      xml::SkipReason::kAttributes);
  EXPECT_TRUE(transport.sent.empty()) << "nothing to answer for a presence";
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost)
      << "a presence change we could not read must not yield a delta";
  EXPECT_EQ(engine->unknown_contacts(), 1u);
  // The next readable presence of that resource makes it known again: a new key syncs.
  presence("bob@example.test/laptop", "<show>dnd</show>");
  EXPECT_EQ(engine->unknown_contacts(), 0u);
}

TEST_F(ServiceTest, DeltaOverTheServersStanzaLimitIsTooLargeAndTheKeyStaysValid) {
  ServiceConfig config = service->config();
  config.max_answer_bytes = 1024;  // as if the server accepted 1 KiB from the component
  service = std::make_unique<Service>(config, *engine, *store, transport, logger,
                                      [this] { return now_ms; });
  service->on_connected(true);
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  presence("bob@example.test/laptop", "<status>" + std::string(1000, 'z') + "</status>");
  const std::string sync =
      "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
      "last='en1'/></sync>";
  iq("alice@example.test/phone", "sy1", sync);
  transport.answer_roster(roster);
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kTooLarge);
  EXPECT_NE(err.text.find("1024 bytes"), std::string::npos) << err.text;
  // The key did not move: once the change is small again, the same key answers it.
  presence("bob@example.test/laptop", "<status>back</status>");
  iq("alice@example.test/phone", "sy2", sync);
  transport.answer_roster(roster);
  auto r = transport.take();
  ASSERT_EQ(r.attr("type"), "result") << xml::to_string(r);
  auto delta = proto::parse_delta(*rpsync_child(r));
  ASSERT_TRUE(delta.ok());
  ASSERT_EQ(delta->changed.size(), 1u);
  EXPECT_EQ(delta->changed[0].values.status, "back");
}

TEST_F(ServiceTest, PresenceIngestIsDurableAfterFlush) {
  presence("bob@example.test/laptop", "<status>x</status>");
  presence("bob@example.test/laptop", "", "unavailable");
  presence("bob@example.test/phone", "<status>y</status>");
  ASSERT_TRUE(service->flush());
  auto image = store->load();
  ASSERT_TRUE(image.ok());
  ASSERT_EQ(image->resources.size(), 1u);
  EXPECT_EQ(image->resources[0].jid, "bob@example.test/phone");
  EXPECT_EQ(service->counters().presence_in, 3u);
}

}  // namespace
}  // namespace rpsync::service
