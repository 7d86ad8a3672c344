// SPDX-License-Identifier: MIT
// Scenario 3b: a contact's connection drops while alice is away and none of his contacts
// is online to receive the broadcast. ejabberd then forwards nothing to the component
// (docs/ejabberd.md); Prosody still does. Either way alice's delta must say he is gone:
// on ejabberd the component verifies with a ping before it answers, never a wrong delta.
//
//   alice logs in, sees hank/work and carol/phone; enables; checkpoints; logs out
//   hank's connection is reset; nobody else of his is online
//   alice reconnects and syncs
//   alice receives: unavailable hank/work, nothing about carol
//   alice's model equals a fresh full login
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

template <class Server>
class UnwitnessedDrop : public Scenario<Server> {};
TYPED_TEST_SUITE(UnwitnessedDrop, Servers, ServerNames);

TYPED_TEST(UnwitnessedDrop, DeltaSaysTheContactIsGoneNeverAWrongDelta) {
  const std::string alice = "alice@example.test";
  WorldSpec spec = user_with_contacts(alice, {"carol@example.test", "hank@example.test"});
  RPSYNC_SCENARIO_START(spec);
  auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway));
  auto hank = this->comes_online("hank@example.test", "work");
  ASSERT_TRUE(carol && hank);

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood first = this->flood_of(*a);
  ASSERT_TRUE(first.complete);
  ASSERT_EQ(first.state.size(), 2u) << describe(first.state);
  proto::PresenceState model = first.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  ASSERT_TRUE(a->sends_checkpoint(this->component(), "c1", "e1").ok());
  const proto::SyncKey key = a->key("c1");
  a->closes();
  ASSERT_TRUE(carol->settles());

  hank->aborts();  // alice is away: no session of hank's contacts sees this
  ASSERT_TRUE(carol->settles());

  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  Answer answer = b->sends_sync(this->component(), "s1", key);
  ASSERT_TRUE(answer.arrived);
  this->expect_component_alive();
  if (answer.error) {
    // An honest failure is allowed (the client logs in normally); a wrong delta is not.
    this->report("3b unwitnessed drop", "sync -> " + answer.describe());
    return;
  }
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why;
  EXPECT_EQ(delta->unavailable, std::vector<std::string>{"hank@example.test/work"})
      << describe(*delta);
  EXPECT_TRUE(delta->added.empty() && delta->changed.empty()) << describe(*delta);
  ASSERT_TRUE(proto::apply(model, *delta));
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  this->report("3b unwitnessed drop", std::to_string(delta->items()) + " delta item(s) / " +
                                          std::to_string(answer.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
