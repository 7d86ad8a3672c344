// SPDX-License-Identifier: MIT
// Scenario 7b: the component restarts while alice stays online. Her session survived the
// gap, the server re-sends every current presence to the restarted component, so her next
// checkpoint describes exactly the state she holds (including a change made while the
// component was down) and becomes a trustworthy key again.
//
//   alice logs in, enables (e1)
//   the component stops; carol changes her status and erin logs out (alice sees both
//   live); the component starts (the server re-sends only what is available now)
//   alice checkpoints (c1 prev e1) -> digest of the state alice holds
//   dave goes away while alice's connection is reset
//   alice reconnects, sends <sync/> with c1 -> changed dave/pc {show}
// (On a server that re-sends nothing on a component connect the checkpoint digest differs
// from alice's cache instead: her client's digest check is what keeps her correct there.)
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

bool from(const xml::Element& e, std::string_view jid) {
  return e.name() == "presence" && e.attr("from") == jid;
}

template <class Server>
class RestartWhileOnline : public Scenario<Server> {};
TYPED_TEST_SUITE(RestartWhileOnline, Servers, ServerNames);

TYPED_TEST(RestartWhileOnline, CheckpointAfterTheGapIsAValidKeyAgain) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(
      user_with_contacts(alice, {"carol@example.test", "dave@example.test", "erin@example.test"}));
  auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "before"));
  auto dave = this->comes_online("dave@example.test", "pc");
  auto erin = this->comes_online("erin@example.test", "laptop", shows(Show::kChat));
  ASSERT_TRUE(carol && dave && erin);

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood flood = this->flood_of(*a);
  ASSERT_TRUE(flood.complete);
  proto::PresenceState model = flood.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());

  auto& component = this->world->component();
  EXPECT_EQ(component.terminate(), 0) << component.log();
  auto carol_now = shows(Show::kAway, "changed while the component was down");
  ASSERT_TRUE(carol->sends_presence(carol_now));
  ASSERT_TRUE(carol->settles());
  auto seen =
      a->receives([](const xml::Element& e) { return from(e, "carol@example.test/phone"); });
  ASSERT_TRUE(seen);
  fold_presence(model, *seen, alice);
  erin->closes();
  seen = a->receives([](const xml::Element& e) { return from(e, "erin@example.test/laptop"); });
  ASSERT_TRUE(seen);
  fold_presence(model, *seen, alice);
  ASSERT_EQ(model.size(), 2u) << describe(model);
  std::string why;
  ASSERT_TRUE(this->world->start_component_again(&why)) << why;

  Answer c1 = a->sends_checkpoint(this->component(), "c1", "e1");
  ASSERT_TRUE(c1.ok()) << c1.describe() << "\n" << component.log();
  auto checkpointed = proto::parse_checkpointed(*c1.payload);
  ASSERT_TRUE(checkpointed.ok());
  if constexpr (!ServerTraits<TypeParam>::kResendsPresenceOnComponentConnect) {
    // The restarted component cannot know what online sessions see: its checkpoint digest
    // differs from alice's cache, which is how her client notices and falls back.
    EXPECT_NE(checkpointed->state, proto::digest_of(model));
    this->report("7b component restart, alice online",
                 "server re-sends nothing: checkpoint count " +
                     std::to_string(checkpointed->state.count()) + " vs alice's " +
                     std::to_string(model.size()) + " -> the client's digest check falls back");
    return;
  }
  EXPECT_EQ(checkpointed->state, proto::digest_of(model))
      << "the restarted component's view equals alice's " << describe(model);
  const proto::SyncKey key = a->key("c1");

  ASSERT_TRUE(dave->sends_presence(shows(Show::kAway)));
  ASSERT_TRUE(dave->settles());
  a->aborts();

  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  Answer answer = b->sends_sync(this->component(), "s1", key);
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << component.log();
  proto::Delta expected;
  expected.changed.push_back(proto::make_change("dave@example.test/pc", {}, shows(Show::kAway)));
  EXPECT_EQ(delta->changed, expected.changed) << describe(*delta);
  EXPECT_TRUE(delta->added.empty() && delta->unavailable.empty() && delta->contacts.empty())
      << describe(*delta);
  ASSERT_TRUE(proto::apply(model, *delta));
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  this->report("7b component restart, alice online",
               "checkpoint after the gap matches alice's model; its key -> " +
                   std::to_string(delta->items()) + " delta item / " +
                   std::to_string(answer.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
