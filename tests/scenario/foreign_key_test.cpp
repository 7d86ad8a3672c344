// SPDX-License-Identifier: MIT
// Scenario 6: keys the component does not hold for the sender fail with unknown-key, and
// a key never opens another user's data. (Expiry is a clock matter, asserted without
// sleeping in tests/plugin/core: EngineTest.KeysExpireAfterLifetime.)
//
//   bob logs in, enables, logs out (his key stays valid)
//   alice sends <sync/> with a key nobody ever had    -> unknown-key
//   alice sends <sync/> with bob's exact key           -> unknown-key (nothing of bob leaks)
//   bob reconnects with his key                        -> his delta: the key was not consumed
//   bob checkpoints in that session (proves he received the result)
//   bob replays the same key from a new session        -> unknown-key (retired by that proof)
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

template <class Server>
class ForeignKey : public Scenario<Server> {};
TYPED_TEST_SUITE(ForeignKey, Servers, ServerNames);

TYPED_TEST(ForeignKey, UnknownAndOtherUsersKeysAreUnknown) {
  const std::string alice = "alice@example.test";
  const std::string bob = "bob@example.test";
  WorldSpec spec = user_with_contacts(alice, {"carol@example.test"});
  spec.users.push_back(bob);
  spec.users.push_back("dave@example.test");
  mutual(spec, bob, "dave@example.test");
  RPSYNC_SCENARIO_START(spec);
  auto carol = this->comes_online("carol@example.test", "phone");
  auto dave = this->comes_online("dave@example.test", "pc", shows(Show::kDnd, "secret plans"));
  ASSERT_TRUE(carol && dave);

  auto b = this->logs_in(bob, "phone");
  ASSERT_TRUE(b);
  Flood bobs = this->flood_of(*b);
  ASSERT_EQ(bobs.state.size(), 1u);
  ASSERT_TRUE(b->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey bob_key = b->key("e1");
  b->closes();

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Answer never = a->sends_sync(this->component(), "s1", {"no-such-stream", "phone", "e1"});
  EXPECT_TRUE(is_error(never, AppCondition::kUnknownKey));
  Answer stolen = a->sends_sync(this->component(), "s2", bob_key);
  EXPECT_TRUE(is_error(stolen, AppCondition::kUnknownKey));
  EXPECT_FALSE(stolen.payload) << "an error carries no delta";
  // Same stream and last, alice's own resource: still bob's session, still not alice's.
  Answer stolen2 = a->sends_sync(this->component(), "s3", {bob_key.stream, "phone", "e1"});
  EXPECT_TRUE(is_error(stolen2, AppCondition::kUnknownKey));

  auto b2 = this->logs_in(bob, "phone");
  ASSERT_TRUE(b2);
  Answer own = b2->sends_sync(this->component(), "s1", bob_key);
  std::string why;
  auto delta = delta_of(own, &why);
  ASSERT_TRUE(delta) << why;
  EXPECT_TRUE(delta->empty()) << describe(*delta);
  EXPECT_EQ(delta->state, proto::digest_of(bobs.state));
  // The checkpoint quoting the sync's id proves bob received the result.
  Answer proof = b2->sends_checkpoint(this->component(), "c1", "s1");
  ASSERT_TRUE(proof.ok()) << proof.describe();
  b2->closes();

  // A key opens one proven sync: replaying it (a second device, a copy) then fails.
  auto b3 = this->logs_in(bob, "phone");
  ASSERT_TRUE(b3);
  EXPECT_TRUE(is_error(b3->sends_sync(this->component(), "s1", bob_key), AppCondition::kUnknownKey))
      << "a key retired by a successful, proven sync";
  this->report("6 unknown/foreign key", "unknown-key answers " + std::to_string(never.bytes) +
                                            " B and " + std::to_string(stolen.bytes) +
                                            " B; bob's own key still works");
}

}  // namespace
}  // namespace rpsync::test::scenario
