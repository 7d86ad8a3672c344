// SPDX-License-Identifier: MIT
// What the service answers on each kind of server (plugin/service/server_view.h): without
// session reports (ejabberd without mod_rpsync_gate) a sync is answered only when it can be
// proven, otherwise continuity-lost; with them (kReported) requests wait for every host's
// <sessions-sent/> after a connect and no ping is needed.
#include "plugin/service/server_view.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/delta.h"
#include "protocol/ns.h"
#include "protocol/state.h"
#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture

std::vector<std::string> sorted_unavailable(const proto::Delta& d) {
  std::vector<std::string> v = d.unavailable;
  std::sort(v.begin(), v.end());
  return v;
}

// ejabberd without session reports: the service pings what the answer would show.
class UnreportedServiceTest : public ServiceTest {
 protected:
  UnreportedServiceTest() : ServiceTest(true) {}
  // alice enabled with bob/laptop and carol/pc online; returns her client state.
  proto::PresenceState enable_alice() {
    presence("bob@example.test/laptop");
    presence("carol@other.test/pc");
    iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    transport.answer_roster(roster);
    transport.take();
    return engine->view("alice@example.test");
  }
  void sync_alice(const std::vector<std::pair<std::string, std::string>>& now) {
    iq("alice@example.test/phone", "sy",
       "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
       "last='en1'/></sync>");
    transport.answer_roster(now);
  }
  static proto::StanzaError session_not_found() {
    return {proto::ErrorType::kCancel, Condition::kServiceUnavailable, AppCondition::kNone,
            "User session not found"};
  }
};

TEST_F(UnreportedServiceTest, EveryResourceProvenGoneGivesTheDelta) {
  auto client = enable_alice();
  sync_alice(roster);
  ASSERT_EQ(transport.requests.size(), 2u) << "one ping per resource the answer would show";
  EXPECT_TRUE(transport.sent.empty()) << "no answer before every ping is back";
  transport.answer_ping("bob@example.test/laptop", session_not_found());
  transport.answer_ping("carol@other.test/pc", session_not_found());
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(sorted_unavailable(*delta),
            (std::vector<std::string>{"bob@example.test/laptop", "carol@other.test/pc"}));
  ASSERT_TRUE(proto::apply(client, *delta));
  EXPECT_EQ(proto::digest_of(client), delta->state);
}

// The same full JID may have logged in again without presence: its answer proves a
// session, not the presence held.
TEST_F(UnreportedServiceTest, ASessionAnsweringThePingIsNoProofOfItsPresence) {
  enable_alice();
  sync_alice(roster);
  transport.answer_ping("bob@example.test/laptop", session_not_found());
  transport.answer_ping("carol@other.test/pc");
  const auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kContinuityLost);
  EXPECT_NE(err.text.find("carol@other.test/pc"), std::string::npos) << err.text;
  EXPECT_EQ(service->counters().failures.at("continuity-lost"), 1u);
}

TEST_F(UnreportedServiceTest, AnUnansweredPingIsNoProofEither) {
  enable_alice();
  sync_alice(roster);
  transport.answer_ping("bob@example.test/laptop",
                        proto::StanzaError{proto::ErrorType::kWait, Condition::kRemoteServerTimeout,
                                           AppCondition::kNone, "timeout"});
  transport.answer_ping("carol@other.test/pc", session_not_found());
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost);
}

TEST_F(UnreportedServiceTest, LosingOurConnectionDuringVerificationIsContinuityLost) {
  enable_alice();
  sync_alice(roster);
  transport.answer_ping("bob@example.test/laptop",
                        proto::make_error(AppCondition::kNotReady, "connection lost"));
  transport.answer_ping("carol@other.test/pc", session_not_found());
  EXPECT_EQ(error_of(transport.take()).app, AppCondition::kContinuityLost);
}

// A contact added since the key comes with the resources the component holds: one that
// stayed silent since it connected is not among them, and the digest would agree.
TEST_F(UnreportedServiceTest, AContactAddedSinceTheKeyIsNotProven) {
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster({{"bob@example.test", "both"}});
  transport.take();
  sync_alice({{"bob@example.test", "both"}, {"dave@example.test", "both"}});
  EXPECT_TRUE(transport.requests.empty()) << "nothing held available: nothing to ping";
  const auto err = error_of(transport.take());
  EXPECT_EQ(err.app, AppCondition::kContinuityLost);
  EXPECT_NE(err.text.find("dave@example.test"), std::string::npos) << err.text;
}

TEST_F(UnreportedServiceTest, NothingHeldAndNoContactAddedIsProven) {
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  transport.take();
  sync_alice(roster);
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_TRUE(delta->empty());
}

// ejabberd with mod_rpsync_gate's session reports.
class ReportedServiceTest : public ServiceTest {
 protected:
  ReportedServiceTest() : ServiceTest(reported()) {}
  static ServiceConfig reported() {
    ServiceConfig c = configured();
    c.domains = {"example.test", "other.test"};
    c.server_view = ServerView::kReported;
    c.requests_per_minute = 100;
    return c;
  }
  void sessions_sent(const std::string& from) {
    service->on_stanza(stanza("<message from='" + from +
                              "' to='rpsync.example.test' id='ss'><sessions-sent "
                              "xmlns='urn:xmpp:rpsync:0'/></message>"));
  }
  AppCondition enable_answer(const std::string& id) {
    iq("alice@example.test/phone", id, "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    if (!transport.requests.empty()) transport.answer_roster(roster);
    auto reply = transport.take();
    if (reply.attr("type") == "result") return AppCondition::kNone;
    return error_of(reply).app;
  }
};

TEST_F(ReportedServiceTest, RequestsWaitForEveryServedHostsSessionsSent) {
  EXPECT_FALSE(service->ready());
  EXPECT_EQ(enable_answer("e1"), AppCondition::kNotReady);
  sessions_sent("example.test");
  sessions_sent("bob@other.test");       // a user, not the host
  sessions_sent("other.test/resource");  // not a bare domain
  sessions_sent("elsewhere.test");       // not served
  EXPECT_FALSE(service->ready());
  EXPECT_EQ(enable_answer("e2"), AppCondition::kNotReady);
  sessions_sent("other.test");
  EXPECT_TRUE(service->ready());
  EXPECT_EQ(enable_answer("e3"), AppCondition::kNone);
}

TEST_F(ReportedServiceTest, AReconnectWaitsAgain) {
  sessions_sent("example.test");
  sessions_sent("other.test");
  ASSERT_TRUE(service->ready());
  service->on_disconnected();
  service->on_connected(true);
  EXPECT_FALSE(service->ready());
  sessions_sent("other.test");
  sessions_sent("example.test");
  EXPECT_TRUE(service->ready());
}

// The connection delivers stanzas while it still waits for another host's privilege
// advertisement, before on_connected(): the re-send and its end marker count.
TEST_F(ReportedServiceTest, AReSendBeforeOnConnectedIsKept) {
  service->on_disconnected();
  presence("bob@example.test/laptop");
  sessions_sent("example.test");
  sessions_sent("other.test");
  service->on_connected(true);
  EXPECT_TRUE(service->ready());
  EXPECT_EQ(engine->view("alice@example.test").size(), 0u) << "no roster yet";
  EXPECT_EQ(engine->stats().available, 1u) << "bob/laptop re-sent before on_connected()";
}

TEST_F(ReportedServiceTest, SyncsNeedNoPing) {
  sessions_sent("example.test");
  sessions_sent("other.test");
  presence("bob@example.test/laptop");
  iq("alice@example.test/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  auto client = engine->view("alice@example.test");
  transport.take();
  presence("bob@example.test/laptop", "", "unavailable");  // the module's session end
  iq("alice@example.test/phone", "sy",
     "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
     "last='en1'/></sync>");
  transport.answer_roster(roster);
  EXPECT_TRUE(transport.requests.empty()) << "no ping with session reports";
  auto delta = proto::parse_delta(*rpsync_child(transport.take()));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->unavailable, std::vector<std::string>{"bob@example.test/laptop"});
  ASSERT_TRUE(proto::apply(client, *delta));
  EXPECT_EQ(proto::digest_of(client), delta->state);
}

TEST_F(ReportedServiceTest, AMissingSessionsSentFallsBackToProvingAfterTheWait) {
  sessions_sent("example.test");
  now_ms += service->config().sessions_wait.count();
  service->tick();
  EXPECT_EQ(service->server_view(), ServerView::kUnreported);
  EXPECT_TRUE(service->ready());
}

class LearnViewServiceTest : public ServiceTest {
 protected:
  LearnViewServiceTest() : ServiceTest(learning()) {}
  static ServiceConfig learning() {
    ServiceConfig c = configured();
    c.learn_view_on_connect = true;
    return c;
  }
};

TEST_F(LearnViewServiceTest, NotReadyUntilTheAppSaysWhatTheServerReports) {
  EXPECT_FALSE(service->ready());
  service->set_server_view(ServerView::kResends);
  EXPECT_TRUE(service->ready());
  service->on_disconnected();
  service->on_connected(true);
  EXPECT_FALSE(service->ready()) << "learnt again at every connect";
  service->set_server_view(ServerView::kReported);
  EXPECT_FALSE(service->ready()) << "then the hosts' <sessions-sent/>";
}

TEST(SessionsSentHost, OnlyABareDomainWithThePayload) {
  auto host = [](const std::string& text) { return sessions_sent_host(stanza(text)); };
  EXPECT_EQ(host("<message from='example.test'><sessions-sent xmlns='urn:xmpp:rpsync:0'/>"
                 "</message>"),
            std::optional<std::string>("example.test"));
  EXPECT_FALSE(
      host("<message from='a@example.test'><sessions-sent xmlns='urn:xmpp:rpsync:0'/>"
           "</message>"));
  EXPECT_FALSE(host("<message from='example.test'><sessions-sent xmlns='urn:other'/></message>"));
  EXPECT_FALSE(host("<message><sessions-sent xmlns='urn:xmpp:rpsync:0'/></message>"));
}

}  // namespace
}  // namespace rpsync::service
