// SPDX-License-Identifier: MIT
// Scenario 1: the component ingests contact presence from its own VirtualHost and from a
// second one, and alice's <enable/> answers the count and digest of exactly the presence
// her own login flood showed her.
//
//   carol (2 resources), dave and xavier@other.test come online; frank stays offline
//   alice logs in, sends initial presence, receives the flood
//   alice sends <enable/>, receives <enabled count=N digest=D/>
//   N and D are those of the state the flood showed
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::Show;

template <class Server>
class IngestAndEnable : public Scenario<Server> {};
TYPED_TEST_SUITE(IngestAndEnable, Servers, ServerNames);

TYPED_TEST(IngestAndEnable, EnabledDigestEqualsTheFloodAliceSaw) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(user_with_contacts(alice, {"carol@example.test", "dave@example.test",
                                                   "frank@example.test", "xavier@other.test"}));

  const auto carol_phone = with_caps(shows(Show::kAway, "in a meeting"), "Q1w2E3=");
  const auto carol_laptop = shows(Show::kNone, "", 5);
  const auto dave_pc = shows(Show::kChat);
  const auto xavier_home = with_caps(shows(Show::kDnd, "busy", -1), "X9y8Z7=");
  auto carol1 = this->comes_online("carol@example.test", "phone", carol_phone);
  auto carol2 = this->comes_online("carol@example.test", "laptop", carol_laptop);
  auto dave = this->comes_online("dave@example.test", "pc", dave_pc);
  auto xavier = this->comes_online("xavier@other.test", "home", xavier_home);
  ASSERT_TRUE(carol1 && carol2 && dave && xavier);

  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  Flood flood = this->flood_of(*a);
  ASSERT_TRUE(flood.complete);
  const proto::PresenceState expected{{"carol@example.test/phone", carol_phone},
                                      {"carol@example.test/laptop", carol_laptop},
                                      {"dave@example.test/pc", dave_pc},
                                      {"xavier@other.test/home", xavier_home}};
  EXPECT_EQ(flood.state, expected) << describe(flood.state);

  Answer answer = a->sends_enable(this->component(), "e1");
  ASSERT_TRUE(answer.ok()) << answer.describe() << "\n" << this->world->component().log();
  ASSERT_TRUE(answer.payload);
  auto enabled = proto::parse_enabled(*answer.payload);
  ASSERT_TRUE(enabled.ok()) << enabled.error().text;
  EXPECT_EQ(enabled->state.count(), 4u);
  EXPECT_EQ(enabled->state.hex(), proto::digest_of(flood.state).hex());
  EXPECT_EQ(enabled->state, proto::digest_of(flood.state));
  EXPECT_EQ(enabled->lifetime, 604800u);

  this->report("1 ingest+enable", "flood " + std::to_string(flood.presences) + " presences / " +
                                      std::to_string(flood.bytes) + " B; enabled count " +
                                      std::to_string(enabled->state.count()) + ", answer " +
                                      std::to_string(answer.bytes) + " B");
  this->expect_component_alive();
}

}  // namespace
}  // namespace rpsync::test::scenario
