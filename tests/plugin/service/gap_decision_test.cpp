// SPDX-License-Identifier: MIT
// A gap decided per user (ServiceConfig::close_gaps_per_user): after a reconnect the
// service re-learns presence, ends the resync when every served host has witnessed its
// re-send (<sessions-sent/>), and keeps the keys of users whose contacts are all on those
// hosts; a user with a remote contact, and everyone when nothing was witnessed, fails with
// continuity-lost.
#include <gtest/gtest.h>

#include "protocol/delta.h"
#include "protocol/state.h"
#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service {
namespace {

using namespace test;  // NOLINT(google-build-using-namespace): the fixture

class GapDecisionTest : public ServiceTest {
 protected:
  GapDecisionTest() : ServiceTest(per_user()) {}
  static ServiceConfig per_user() {
    ServiceConfig c = configured();
    c.domains = {"example.test", "other.test"};
    c.close_gaps_per_user = true;
    c.requests_per_minute = 100;
    return c;
  }
  void sessions_sent(const std::string& from) {
    service->on_stanza(stanza("<message from='" + from +
                              "' to='rpsync.example.test'><sessions-sent "
                              "xmlns='urn:xmpp:rpsync:0'/></message>"));
  }
  void witnessed() {
    sessions_sent("example.test");
    sessions_sent("other.test");
    service->tick();
  }
  using Items = std::vector<std::pair<std::string, std::string>>;
  proto::PresenceState enable(const std::string& user, const Items& items) {
    iq(user + "/phone", "en1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    transport.answer_roster(items);
    EXPECT_EQ(transport.take().attr("type"), "result");
    return engine->view(user);
  }
  xml::Element sync(const std::string& user, const Items& items) {
    iq(user + "/phone", "sy",
       "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
       "last='en1'/></sync>");
    if (!transport.requests.empty()) transport.answer_roster(items);
    return transport.take();
  }
  void reconnect() {
    service->on_disconnected();
    service->on_connected(true);
  }
  const Items alice_roster{{"bob@example.test", "both"}, {"carol@other.test", "both"}};
  const Items dave_roster{{"bob@example.test", "both"}, {"zed@remote.test", "both"}};
};

TEST_F(GapDecisionTest, AWitnessedReconnectKeepsCoveredKeysOnly) {
  witnessed();  // the start's own gap: nothing held yet
  presence("bob@example.test/laptop");
  presence("carol@other.test/pc");
  proto::PresenceState alice = enable("alice@example.test", alice_roster);
  enable("dave@example.test", dave_roster);

  reconnect();
  presence("bob@example.test/laptop", "<show>away</show>");  // re-sent, changed
  // carol/pc is not re-sent: she went offline during the gap
  EXPECT_EQ(error_of(sync("alice@example.test", alice_roster)).app, AppCondition::kNotReady)
      << "not before the re-send is witnessed";
  witnessed();

  auto delta = proto::parse_delta(*rpsync_child(sync("alice@example.test", alice_roster)));
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->items(), 2u) << "bob changed, carol went offline";
  ASSERT_TRUE(proto::apply(alice, *delta));
  EXPECT_EQ(alice, engine->view("alice@example.test"));
  EXPECT_EQ(proto::digest_of(alice), delta->state);
  EXPECT_EQ(error_of(sync("dave@example.test", dave_roster)).app, AppCondition::kContinuityLost);
  EXPECT_EQ(service->counters().gap_keys_kept, 1u);
  EXPECT_EQ(service->counters().gap_keys_lost, 1u);
}

// A host that did not witness its re-send leaves its contacts' users uncovered.
TEST_F(GapDecisionTest, AnUnwitnessedHostFailsItsContactsUsers) {
  witnessed();
  presence("carol@other.test/pc");
  enable("alice@example.test", alice_roster);
  reconnect();
  sessions_sent("example.test");
  now_ms += per_user().resync_max.count();
  service->tick();
  EXPECT_EQ(error_of(sync("alice@example.test", alice_roster)).app, AppCondition::kContinuityLost);
}

// Without the witness (no gate module) the resync ends after the quiet period and every
// key from before the gap fails.
TEST_F(GapDecisionTest, WithoutTheWitnessEveryKeyFails) {
  witnessed();
  presence("bob@example.test/laptop");
  enable("alice@example.test", {{"bob@example.test", "both"}});
  reconnect();
  presence("bob@example.test/laptop");
  now_ms += per_user().resync_quiet.count();
  service->tick();
  ASSERT_TRUE(service->ready());
  EXPECT_EQ(error_of(sync("alice@example.test", {{"bob@example.test", "both"}})).app,
            AppCondition::kContinuityLost);
  EXPECT_EQ(service->counters().gap_keys_lost, 1u);
}

}  // namespace
}  // namespace rpsync::service
