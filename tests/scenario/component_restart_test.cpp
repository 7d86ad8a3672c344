// SPDX-License-Identifier: MIT
// Scenario 7: the component restarts between two of alice's sessions, cleanly (SIGTERM)
// or by a crash (SIGKILL), on the same sqlite store. alice has a contact on other.test, a
// host the component does not serve: nothing re-establishes its presence after the gap
// (and Prosody without mod_rpsync_gate witnesses nothing), so alice's old key fails with
// continuity-lost, never a partial delta; a new enable afterwards works and its key syncs
// normally. Keys that survive a restart: continuity_test.cpp.
//
//   alice logs in, enables (e1), logs out
//   the component is stopped (SIGTERM | SIGKILL) and started again on the same store
//   alice reconnects, sends <sync/> with e1 -> continuity-lost
//   alice sends initial presence, receives the flood, enables -> digest of that flood
//   alice logs out, reconnects, sends <sync/> with the new key -> empty delta
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

template <class Server>
class ComponentRestart : public Scenario<Server> {
 protected:
  void run(bool crash) {
    const std::string alice = "alice@example.test";
    RPSYNC_SCENARIO_START(user_with_contacts(alice, {"carol@example.test", "xavier@other.test"}));
    auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "brb"));
    auto xavier = this->comes_online("xavier@other.test", "home", shows(Show::kChat));
    ASSERT_TRUE(carol && xavier);

    auto a = this->logs_in(alice, "phone");
    ASSERT_TRUE(a);
    ASSERT_TRUE(this->flood_of(*a).complete);
    ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
    const proto::SyncKey old_key = a->key("e1");
    a->closes();

    auto& component = this->world->component();
    if (crash) {
      component.kill9();
    } else {
      EXPECT_EQ(component.terminate(), 0) << "a clean stop exits 0\n" << component.log();
    }
    std::string why;
    ASSERT_TRUE(this->world->start_component_again(&why)) << why;

    auto b = this->logs_in(alice, "phone");
    ASSERT_TRUE(b);
    Answer lost = b->sends_sync(this->component(), "s1", old_key);
    EXPECT_TRUE(is_error(lost, AppCondition::kContinuityLost)) << component.log();
    Flood flood = this->flood_of(*b);
    ASSERT_TRUE(flood.complete);
    EXPECT_EQ(flood.state.size(), 2u) << describe(flood.state);
    Answer enabled = b->sends_enable(this->component(), "e2");
    ASSERT_TRUE(enabled.ok()) << enabled.describe();
    auto e = proto::parse_enabled(*enabled.payload);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->state, proto::digest_of(flood.state))
        << "the restarted component re-learned the presence the server re-sent";
    const proto::SyncKey new_key = b->key("e2");
    b->closes();

    auto c = this->logs_in(alice, "phone");
    ASSERT_TRUE(c);
    Answer again = c->sends_sync(this->component(), "s2", new_key);
    std::string why2;
    auto delta = delta_of(again, &why2);
    ASSERT_TRUE(delta) << why2;
    EXPECT_TRUE(delta->empty()) << describe(*delta);
    EXPECT_EQ(delta->state, proto::digest_of(flood.state));
    this->report(crash ? "7 component SIGKILL" : "7 component SIGTERM",
                 "old key -> continuity-lost (" + std::to_string(lost.bytes) +
                     " B); new enable count " + std::to_string(e->state.count()) +
                     ", its key -> empty delta");
    this->expect_component_alive();
  }
};
TYPED_TEST_SUITE(ComponentRestart, Servers, ServerNames);

TYPED_TEST(ComponentRestart, CleanStopLosesContinuity) {
  this->run(/*crash=*/false);
}
TYPED_TEST(ComponentRestart, CrashLosesContinuity) {
  this->run(/*crash=*/true);
}

}  // namespace
}  // namespace rpsync::test::scenario
