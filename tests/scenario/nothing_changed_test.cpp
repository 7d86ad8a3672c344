// SPDX-License-Identifier: MIT
// Scenario 4: nothing changed while alice was away: the answer is the empty ("null") delta,
// whose digest is the state she already holds.
//
//   carol, dave and xavier@other.test are online; alice logs in, enables, logs out
//   carol re-sends the very same presence (a no-op for the state)
//   alice reconnects, sends <sync/>, receives <delta count=3 digest=D/> with no children
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

template <class Server>
class NothingChanged : public Scenario<Server> {};
TYPED_TEST_SUITE(NothingChanged, Servers, ServerNames);

TYPED_TEST(NothingChanged, EmptyDelta) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(
      user_with_contacts(alice, {"carol@example.test", "dave@example.test", "xavier@other.test"}));
  const auto carol_phone = with_caps(shows(Show::kAway, "out"), "S4me=");
  auto carol = this->comes_online("carol@example.test", "phone", carol_phone);
  auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kNone, "", 10));
  auto xavier = this->comes_online("xavier@other.test", "home");
  ASSERT_TRUE(carol && dave && xavier);

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood flood = this->flood_of(*a);
  ASSERT_TRUE(flood.complete);
  proto::PresenceState model = flood.state;
  ASSERT_EQ(model.size(), 3u) << describe(model);
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey key = a->key("e1");
  a->closes();

  ASSERT_TRUE(carol->sends_presence(carol_phone));
  ASSERT_TRUE(carol->settles());

  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  Answer answer = b->sends_sync(this->component(), "s1", key);
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why;
  EXPECT_TRUE(delta->empty()) << describe(*delta);
  EXPECT_TRUE(answer.payload->children().empty()) << xml::to_string(*answer.payload);
  EXPECT_EQ(delta->state, proto::digest_of(model));
  EXPECT_EQ(delta->state.count(), 3u);
  this->expect_model_is_fresh_login(model, alice);
  this->report("4 nothing changed", "empty delta " + std::to_string(answer.bytes) + " B vs flood " +
                                        std::to_string(flood.presences) + " presences / " +
                                        std::to_string(flood.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
