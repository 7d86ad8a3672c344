// SPDX-License-Identifier: MIT
// Scenario 9: hostile input through a real server. Every bad request gets the spec's
// stanza error, the component stays connected and keeps its data: after each attack,
// alice's key from before it still syncs to an empty delta (no gap, nothing lost) and the
// process is alive. (Malformed or oversized raw XML cannot pass through Prosody, which
// closes the offending client; the component's own stream parser is exercised against a
// fake server in tests/plugin/xmpp/fake_server_test.cpp: garbage, huge tokens, random
// bytes, oversized stanzas.)
//
//   eve sends malformed rpsync payloads           -> bad-request each
//   eve sends <frobnicate xmlns='urn:xmpp:rpsync:0'/> -> feature-not-implemented
//   eve sends a 20 KB <enable/>                   -> policy-violation + <stanza-too-big/>
//   fred sends 60 requests in a burst (limit 30/min) -> 30 answered, 30 rate-limited
//   mallory@third.test (not a served domain) enables -> forbidden
//   after each: alice reconnects with her key -> empty delta; the component is alive
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Condition;
using proto::ErrorType;
using proto::Show;

xml::Element rpsync(std::string name) {
  return xml::Element(std::move(name), std::string(ns::kRpsync));
}

template <class Server>
class HostileInput : public Scenario<Server> {
 protected:
  const std::string alice = "alice@example.test";
  std::unique_ptr<Party> carol;
  std::unique_ptr<Party> a;  // alice's current session
  proto::PresenceState model;
  std::string last;  // id of alice's last completed transaction
  int rounds = 0;

  void SetUp() override {
    WorldSpec spec = user_with_contacts(alice, {"carol@example.test"});
    spec.hosts.push_back("third.test");
    spec.users.insert(spec.users.end(),
                      {"eve@example.test", "fred@example.test", "mallory@third.test"});
    spec.component.extra_args = {"--requests-per-minute", "30", "--max-stanza-bytes", "16384"};
    RPSYNC_SCENARIO_START(spec);
    carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "tea"));
    ASSERT_TRUE(carol);
    a = this->logs_in(alice, "phone");
    ASSERT_TRUE(a);
    Flood flood = this->flood_of(*a);
    ASSERT_TRUE(flood.complete);
    model = flood.state;
    ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
    last = "e1";
  }

  // alice drops her session and comes back with the key she held before the attack.
  void alice_still_syncs(const std::string& after) {
    SCOPED_TRACE("after " + after);
    this->expect_component_alive();
    const proto::SyncKey key = a->key(last);
    a->closes();
    a = this->logs_in(alice, "phone");
    ASSERT_TRUE(a);
    const std::string id = "s" + std::to_string(++rounds);
    Answer answer = a->sends_sync(this->component(), id, key);
    std::string why;
    auto delta = delta_of(answer, &why);
    ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
    EXPECT_TRUE(delta->empty()) << describe(*delta);
    EXPECT_EQ(delta->state, proto::digest_of(model));
    last = id;
  }

  std::unique_ptr<Party> attacker(const std::string& bare) { return this->logs_in(bare, "x"); }
};
TYPED_TEST_SUITE(HostileInput, Servers, ServerNames);

TYPED_TEST(HostileInput, MalformedUnknownOversizedFloodAndForeignDomain) {
  auto eve = this->attacker("eve@example.test");
  ASSERT_TRUE(eve);
  const std::string to = this->component();

  // Malformed payloads.
  std::vector<std::pair<std::string, xml::Element>> malformed;
  malformed.emplace_back("enable without stream", rpsync("enable"));
  {
    auto c = rpsync("checkpoint");
    c.set_attr("stream", "s");
    malformed.emplace_back("checkpoint without prev", c);
  }
  {
    auto s = rpsync("sync");
    s.set_attr("stream", "s");
    malformed.emplace_back("sync without key", s);
  }
  {
    auto s = rpsync("sync");
    s.set_attr("stream", "s");
    s.add(rpsync("key")).set_attr("resource", "r");
    malformed.emplace_back("key without stream and last", s);
  }
  {
    auto e = rpsync("enable");
    e.set_attr("stream", std::string(300, 's'));
    malformed.emplace_back("stream id over 256 bytes", e);
  }
  int n = 0;
  for (const auto& [what, payload] : malformed) {
    Answer r = eve->sends_iq(to, "set", payload, "bad-" + std::to_string(++n));
    EXPECT_TRUE(is_error(r, ErrorType::kModify, Condition::kBadRequest)) << what;
    EXPECT_EQ(r.app(), AppCondition::kNone) << what;
  }
  this->alice_still_syncs("malformed payloads");

  Answer unknown = eve->sends_iq(to, "set", rpsync("frobnicate"), "unknown-1");
  EXPECT_TRUE(is_error(unknown, ErrorType::kCancel, Condition::kFeatureNotImplemented));
  this->alice_still_syncs("unknown element");

  auto big = rpsync("enable");
  big.set_attr("stream", eve->stream_id());
  big.add(xml::Element("pad", "urn:example:pad")).set_text(std::string(20 * 1024, 'x'));
  Answer too_big = eve->sends_iq(to, "set", big, "big-1");
  EXPECT_TRUE(is_error(too_big, AppCondition::kStanzaTooBig));
  this->alice_still_syncs("oversized request");

  // A burst from one user: the first 30 are answered (not-enabled: fred never enabled),
  // the rest rate-limited; alice is still served.
  auto fred = this->attacker("fred@example.test");
  ASSERT_TRUE(fred);
  constexpr int kBurst = 60;
  for (int i = 1; i <= kBurst; ++i)
    ASSERT_TRUE(
        fred->sends_iq_only(to, proto::to_xml(proto::Disable{"never"}), "f-" + std::to_string(i)));
  int served = 0, limited = 0, other = 0;
  for (int i = 1; i <= kBurst; ++i) {
    Answer r = fred->answer_to("f-" + std::to_string(i));
    if (r.app() == AppCondition::kRateLimited) {
      EXPECT_TRUE(is_error(r, AppCondition::kRateLimited));
      ++limited;
    } else if (r.app() == AppCondition::kNotEnabled) {
      ++served;
    } else {
      ++other;
      ADD_FAILURE() << "f-" << i << ": " << r.describe();
    }
  }
  EXPECT_EQ(served, 30);
  EXPECT_EQ(limited, kBurst - 30);
  EXPECT_EQ(other, 0);
  this->alice_still_syncs("a burst of 60 requests from another user");

  auto mallory = this->attacker("mallory@third.test");
  ASSERT_TRUE(mallory);
  Answer forbidden = mallory->sends_enable(to, "m-1");
  EXPECT_TRUE(is_error(forbidden, ErrorType::kAuth, Condition::kForbidden));
  this->alice_still_syncs("a user of a domain not served");

  this->report("9 hostile input",
               std::to_string(malformed.size()) + " malformed -> bad-request; unknown -> " +
                   unknown.describe() + "; 20 KB -> " + too_big.describe() + "; burst " +
                   std::to_string(kBurst) + " -> " + std::to_string(served) + " served / " +
                   std::to_string(limited) + " rate-limited; third.test -> " +
                   forbidden.describe() + "; " + std::to_string(this->rounds) +
                   " alice syncs OK after them");
}

}  // namespace
}  // namespace rpsync::test::scenario
