// The service's dispatch and request pipeline with the real engine and an in-memory store.
// The transport is a recording fake: the test plays the server, answering roster fetches.
#include "plugin/service/service.h"

#include <gtest/gtest.h>

#include <deque>

#include "protocol/delta.h"
#include "protocol/ns.h"
#include "protocol/session.h"
#include "protocol/state.h"

namespace rpsync::service {
namespace {

using proto::AppCondition;
using proto::Condition;

class FakeTransport : public Transport {
 public:
  bool send(xml::Element stanza) override {
    sent.push_back(std::move(stanza));
    return true;
  }
  void request(xml::Element iq, std::chrono::milliseconds, Reply done) override {
    requests.push_back({std::move(iq), std::move(done)});
  }
  struct Pending {
    xml::Element iq;
    Reply done;
  };
  std::deque<xml::Element> sent;
  std::deque<Pending> requests;

  xml::Element take() {
    EXPECT_FALSE(sent.empty());
    if (sent.empty()) return {};
    auto e = std::move(sent.front());
    sent.pop_front();
    return e;
  }
  // Answers the oldest pending request, which must be a ping to `to`, with a result or
  // with the stanza error `error`.
  void answer_ping(std::string_view to, std::optional<proto::StanzaError> error = {}) {
    ASSERT_FALSE(requests.empty());
    auto p = std::move(requests.front());
    requests.pop_front();
    EXPECT_EQ(p.iq.attr("to"), to);
    ASSERT_TRUE(p.iq.child("ping", ns::kPing));
    if (error) return p.done(*error);
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    p.done(std::move(result));
  }
  // Answers the oldest roster fetch with these contacts (jid -> subscription).
  void answer_roster(const std::vector<std::pair<std::string, std::string>>& items) {
    ASSERT_FALSE(requests.empty());
    auto p = std::move(requests.front());
    requests.pop_front();
    EXPECT_EQ(p.iq.attr("type"), "get");
    ASSERT_TRUE(p.iq.child("query", ns::kRoster));
    xml::Element result("iq", std::string(ns::kComponent));
    result.set_attr("type", "result");
    auto& q = result.add(xml::Element("query", std::string(ns::kRoster)));
    for (const auto& [jid, sub] : items) {
      auto& item = q.add(xml::Element("item", std::string(ns::kRoster)));
      item.set_attr("jid", jid);
      item.set_attr("subscription", sub);
    }
    p.done(std::move(result));
  }
};

xml::Element stanza(std::string_view text) {
  return std::get<xml::Element>(xml::parse(
      "<wrap xmlns='jabber:component:accept'>" + std::string(text) + "</wrap>"))
      .children()
      .front();
}

class ServiceTest : public ::testing::Test {
 protected:
  explicit ServiceTest(bool verify_available = false) {
    core::EngineOptions options;
    options.clock = [this] { return now_ms; };
    engine = std::make_unique<core::Engine>(options);
    store = std::move(store::open_store("memory:")).value();
    ServiceConfig config;
    config.component_jid = "rpsync.example.test";
    config.domains = {"example.test"};
    config.requests_per_minute = 5;
    config.verify_available = verify_available;
    service = std::make_unique<Service>(config, *engine, *store, transport, logger,
                                        [this] { return now_ms; });
    service->on_connected(true);
  }

  void presence(std::string from, std::string children = "", std::string type = "") {
    service->on_stanza(stanza("<presence from='" + from + "' to='rpsync.example.test'" +
                              (type.empty() ? "" : " type='" + type + "'") + ">" + children +
                              "</presence>"));
  }
  void iq(std::string from, std::string id, std::string payload, std::string type = "set") {
    service->on_stanza(stanza("<iq type='" + type + "' id='" + id + "' from='" + from +
                              "' to='rpsync.example.test'>" + payload + "</iq>"));
  }
  static const xml::Element* rpsync_child(const xml::Element& iq) {
    for (const auto& c : iq.children())
      if (c.ns() == ns::kRpsync) return &c;
    return nullptr;
  }
  proto::StanzaError error_of(const xml::Element& reply) {
    EXPECT_EQ(reply.attr("type"), "error") << xml::to_string(reply);
    const xml::Element* e = reply.child("error");
    if (!e) return {};
    return proto::parse_stanza_error(*e).value_or(proto::StanzaError{});
  }

  std::int64_t now_ms = 1'000'000;
  log::NullLogger logger;
  FakeTransport transport;
  std::unique_ptr<core::Engine> engine;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Service> service;
  const std::vector<std::pair<std::string, std::string>> roster{
      {"bob@example.test", "both"}, {"carol@other.test", "to"}, {"mallory@example.test", "from"}};
};

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

  presence("bob@example.test/laptop", "<status>lunch</status>");   // show removed, status set
  presence("carol@other.test/pc", "<priority>5</priority>");       // new
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

  // The old key is retired; the new session's key (s2, tablet, sy1) works.
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

TEST_F(ServiceTest, ADeltaOverTheProtocolLimitsIsTooLarge) {
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  presence("bob@example.test/laptop", "<status>" + std::string(2000, 'x') + "</status>");
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kTooLarge);
  EXPECT_NE(err.text.find("status"), std::string::npos);
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
  transport.requests.front().done(proto::StanzaError{
      proto::ErrorType::kAuth, Condition::kForbidden, AppCondition::kNone, ""});
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
  service->on_oversized(stanza("<iq type='set' id='big' from='alice@example.test/phone' "
                               "to='rpsync.example.test'/>"));
  auto err = error_of(transport.take());
  EXPECT_EQ(err.condition, Condition::kPolicyViolation);
  EXPECT_EQ(err.app, AppCondition::kStanzaTooBig);
  EXPECT_TRUE(transport.sent.empty());
}

TEST_F(ServiceTest, RequestsOverTheByteLimitGetStanzaTooBig) {
  std::string pad;
  for (int i = 0; i < 200; ++i) pad += "<x xmlns='urn:pad'>" + std::string(100, 'p') + "</x>";
  iq("alice@example.test/phone", "big",
     "<enable xmlns='urn:xmpp:rpsync:0' stream='s'/>" + pad);
  auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kStanzaTooBig);
  EXPECT_TRUE(transport.requests.empty());
}

TEST_F(ServiceTest, UnreadableOversizedPresenceIsAGap) {
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  service->on_oversized(stanza("<presence from='bob@example.test/laptop'/>"));
  EXPECT_TRUE(transport.sent.empty()) << "nothing to answer for a presence";
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost)
      << "a presence change we could not read must not yield a delta";
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

// ejabberd does not forward the unavailable of a dropped connection when no contact is
// online: the service verifies what it would claim is available before answering.
class VerifyingServiceTest : public ServiceTest {
 protected:
  VerifyingServiceTest() : ServiceTest(true) {}
  // alice enabled with bob/laptop and carol/pc online; returns her client state.
  proto::PresenceState enable_alice() {
    presence("bob@example.test/laptop");
    presence("carol@other.test/pc");
    iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    transport.answer_roster(roster);
    transport.take();
    return engine->view("alice@example.test");
  }
  void sync_alice() {
    iq("alice@example.test/phone", "sy",
       "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
       "last='en1'/></sync>");
    transport.answer_roster(roster);
  }
};

TEST_F(VerifyingServiceTest, ASilentlyGoneResourceIsReportedUnavailable) {
  auto client = enable_alice();
  sync_alice();
  ASSERT_EQ(transport.requests.size(), 2u) << "one ping per resource the answer would show";
  EXPECT_TRUE(transport.sent.empty()) << "no answer before every ping is back";
  transport.answer_ping("bob@example.test/laptop",
                        proto::StanzaError{proto::ErrorType::kCancel,
                                           Condition::kServiceUnavailable, AppCondition::kNone,
                                           "User session not found"});
  transport.answer_ping("carol@other.test/pc");
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->unavailable, std::vector<std::string>{"bob@example.test/laptop"});
  ASSERT_TRUE(proto::apply(client, *delta));
  EXPECT_EQ(proto::digest_of(client), delta->state);
}

TEST_F(VerifyingServiceTest, AllAliveGivesTheNormalDelta) {
  enable_alice();
  sync_alice();
  transport.answer_ping("bob@example.test/laptop");
  transport.answer_ping("carol@other.test/pc");
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_TRUE(delta->empty());
}

TEST_F(VerifyingServiceTest, AnUnansweredPingMeansTheServerStillHoldsTheSession) {
  enable_alice();
  sync_alice();
  transport.answer_ping("bob@example.test/laptop",
                        proto::StanzaError{proto::ErrorType::kWait,
                                           Condition::kRemoteServerTimeout, AppCondition::kNone,
                                           "timeout"});
  transport.answer_ping("carol@other.test/pc");
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_TRUE(delta->empty()) << "a normal login would show bob too";
}

TEST_F(VerifyingServiceTest, LosingOurConnectionDuringVerificationIsContinuityLost) {
  enable_alice();
  sync_alice();
  transport.answer_ping("bob@example.test/laptop",
                        proto::make_error(AppCondition::kNotReady, "connection lost"));
  transport.answer_ping("carol@other.test/pc");
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost);
}

}  // namespace
}  // namespace rpsync::service
