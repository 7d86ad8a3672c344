// SPDX-License-Identifier: MIT
// Scenario 9b: a contact sets a long status while alice is away. 2000 bytes of status is
// legal XMPP and the server relays it, but a delta's field carries at most 1024 bytes
// (protocol/limits.h; spec "Presence Fields"). The field rules cut the status to 1024 bytes
// on a character boundary, on the component and in every client alike, so the sync must
// still succeed: a delta the client's parser accepts, carrying the cut status, that brings
// her model to what a fresh login shows (the fresh login's model is cut by the same rule).
// One contact's long status must not turn every sync of his contacts into a failure.
//
//   alice sees carol and dave, enables, logs out
//   carol sets a 2000-byte status
//   alice reconnects, sends <sync/> -> a delta: changed carol {status = first 1024 bytes}
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
  ASSERT_FALSE(answer.error) << "one long status failed the sync: " << answer.describe();
  ASSERT_TRUE(answer.payload);
  auto delta = proto::parse_delta(*answer.payload);
  ASSERT_TRUE(delta.ok()) << "a delta the client's own parser rejects: " << delta.error().text;
  ASSERT_TRUE(proto::apply(model, *delta)) << describe(*delta);
  EXPECT_EQ(proto::digest_of(model), delta->state);
  this->expect_model_is_fresh_login(model, alice);
  bool cut = false;
  for (const auto& [jid, fields] : model)
    if (jid.rfind("carol@example.test/", 0) == 0) cut = fields.status == status.substr(0, 1024);
  EXPECT_TRUE(cut) << "carol's status is not the first 1024 bytes of what she sent";
  this->report("9b long status", std::to_string(delta->items()) + " delta items / " +
                                     std::to_string(answer.bytes) + " B");
}

}  // namespace
}  // namespace rpsync::test::scenario
