// SPDX-License-Identifier: MIT
// Scenario 8: the XMPP server restarts. The component notices, reconnects by itself
// (backoff) and, since alice has a contact on other.test (a host it does not serve, whose
// presence nothing re-establishes), fails alice's old key with continuity-lost; a new
// enable on the fresh server works. Keys that survive it: continuity_test.cpp.
//
//   alice logs in, enables (e1), logs out
//   the server restarts (every session dropped, the component's stream too)
//   the component answers disco#info again (polled, bounded) and is ready
//   carol comes back online with a different status
//   alice reconnects, sends <sync/> with e1 -> continuity-lost
//   alice sends initial presence, receives the flood, enables -> digest of that flood
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

template <class Server>
class ServerRestart : public Scenario<Server> {};
TYPED_TEST_SUITE(ServerRestart, Servers, ServerNames);

TYPED_TEST(ServerRestart, ComponentReconnectsAndOldKeysLoseContinuity) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(user_with_contacts(alice, {"carol@example.test", "xavier@other.test"}));
  auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway));
  auto xavier = this->comes_online("xavier@other.test", "home");
  ASSERT_TRUE(carol && xavier);
  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  ASSERT_TRUE(this->flood_of(*a).complete);
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey old_key = a->key("e1");
  a->closes();
  carol.reset();
  xavier.reset();

  ASSERT_TRUE(this->world->server().restart()) << this->world->server().log();
  const auto restarted = std::chrono::steady_clock::now();
  std::string why;
  ASSERT_TRUE(this->world->component_ready(std::chrono::seconds(40), &why)) << why;
  const auto reconnect_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - restarted)
                                .count();
  this->expect_component_alive();

  carol = this->comes_online("carol@example.test", "phone", shows(Show::kNone, "back"));
  xavier = this->comes_online("xavier@other.test", "home");
  ASSERT_TRUE(carol && xavier);

  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  Answer lost = b->sends_sync(this->component(), "s1", old_key);
  EXPECT_TRUE(is_error(lost, AppCondition::kContinuityLost)) << this->world->component().log();
  Flood flood = this->flood_of(*b);
  ASSERT_TRUE(flood.complete);
  EXPECT_EQ(flood.state.size(), 2u) << describe(flood.state);
  Answer enabled = b->sends_enable(this->component(), "e2");
  ASSERT_TRUE(enabled.ok()) << enabled.describe();
  auto e = proto::parse_enabled(*enabled.payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->state, proto::digest_of(flood.state));
  this->report("8 server restart", "component ready again " + std::to_string(reconnect_ms) +
                                       " ms after the server was up; old key -> continuity-lost");
}

}  // namespace
}  // namespace rpsync::test::scenario
