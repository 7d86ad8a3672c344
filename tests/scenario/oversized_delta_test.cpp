// SPDX-License-Identifier: MIT
// Scenario 9g: a contact forces a delta larger than one stanza the server accepts on the
// component stream, with fields that all stay within the protocol's limits (spec
// "Stanzas the Component Does Not Read", last paragraph). The component's outgoing bound
// is lowered to 16 KiB (the server's is 512 KiB on Prosody); on Prosody 0.12 and ejabberd
// 23.01 alike:
//
//   alice sees carol and five contacts with 1000-byte statuses, enables, logs out
//   carol comes online with 20 resources, each with a 1000-byte status (~22 KB of delta;
//   a normal login, 25 such resources, is larger still, so the delta is not refused as
//   "a normal login is cheaper")
//   alice syncs -> too-large, for the stanza bound; the component keeps its stream
//   16 of carol's resources log out; alice syncs again with the SAME key -> a delta (the
//   key did not move), her state equals a fresh login; 0 component reconnects
#include "tests/scenario/hostile_stanzas.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

constexpr int kResources = 20;
constexpr int kKept = 4;

template <class Server>
class OversizedDelta : public Scenario<Server> {};
TYPED_TEST_SUITE(OversizedDelta, Servers, ServerNames);

TYPED_TEST(OversizedDelta, IsTooLargeBeforeTheKeyMovesAndTheStreamStays) {
  const std::string alice = "alice@example.test";
  std::vector<std::string> others;
  for (int i = 0; i < 5; ++i) others.push_back("d" + std::to_string(i) + "@example.test");
  std::vector<std::string> contacts = others;
  contacts.push_back("carol@example.test");
  WorldSpec spec = user_with_contacts(alice, contacts);
  spec.component.extra_args = {"--max-outgoing-stanza-bytes", "16384"};
  RPSYNC_SCENARIO_START(spec);
  std::vector<std::unique_ptr<Party>> online;
  for (const auto& d : others) {
    online.push_back(this->comes_online(d, "pc", shows(Show::kAway, std::string(1000, 'd'))));
    ASSERT_TRUE(online.back());
  }
  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood flood = this->flood_of(*a);
  ASSERT_TRUE(flood.complete);
  proto::PresenceState model = flood.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey key = a->key("e1");
  a->closes();

  std::vector<std::unique_ptr<Party>> carol;
  for (int i = 0; i < kResources; ++i) {
    const std::string status(1000, static_cast<char>('a' + i));
    carol.push_back(this->comes_online("carol@example.test", "r" + std::to_string(i),
                                       shows(Show::kDnd, status)));
    ASSERT_TRUE(carol.back());
  }
  a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Answer over = a->sends_sync(this->component(), "s1", key);
  EXPECT_TRUE(is_error(over, AppCondition::kTooLarge)) << over.describe();
  EXPECT_NE(over.describe().find("server accepts"), std::string::npos)
      << "too-large for the stanza bound, not for the cost: " << over.describe();
  this->expect_component_alive();

  for (int i = kKept; i < kResources; ++i) carol[static_cast<std::size_t>(i)]->closes();
  ASSERT_TRUE(carol[0]->settles());
  a->closes();
  a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Answer fits = a->sends_sync(this->component(), "s2", key);
  std::string why;
  auto delta = delta_of(fits, &why);
  ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
  EXPECT_EQ(delta->items(), static_cast<std::size_t>(kKept)) << describe(*delta);
  ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  EXPECT_EQ(count_of(this->world->component().log(), "handshake.accepted"), 1u)
      << "the component never reconnected";
  this->report("9g oversized delta",
               std::to_string(kResources) + " resources -> " + over.describe() + "; after " +
                   std::to_string(kResources - kKept) + " left: " + std::to_string(delta->items()) +
                   " items, " + std::to_string(fits.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
