// SPDX-License-Identifier: MIT
// Scenario 9c: stanzas the server relays but the component will not hold (spec "Stanzas
// the Component Does Not Read"), on Prosody 0.12 and ejabberd 23.01 alike. The component's
// per-stanza byte bound is lowered to 64 KiB so that a 70 KB status of apostrophes (420 KB
// once the server re-escapes it: both turn ' into &apos;) is over it.
//
//   mallory (no contact of anyone) sends each class: nesting 200 deep, 1000 attributes,
//   a 70 KB status of ' -- in an IQ to the component (answered policy-violation +
//   stanza-too-big), a message to it, a broadcast presence and a directed presence
//   after each class: alice's key from before still syncs to an empty delta whose digest
//   is her model (no gap), the component never reconnected, its VmRSS returns near its
//   baseline
//
//   eve (alice's contact) sends an unreadable presence: alice's key fails with
//   continuity-lost, dave's (who does not see eve) still syncs; after eve's next readable
//   presence alice enables again and her delta equals a fresh login's view
#include <fstream>

#include "tests/scenario/hostile_stanzas.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Condition;
using proto::Show;

long vm_rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

template <class Server>
class StanzaLimits : public Scenario<Server> {
 protected:
  const std::string alice = "alice@example.test";
  std::unique_ptr<Party> carol, eve, a;
  proto::PresenceState model;
  std::string last;
  int rounds = 0;

  void SetUp() override {
    WorldSpec spec = user_with_contacts(alice, {"carol@example.test", "eve@example.test"});
    spec.users.insert(spec.users.end(), {"mallory@example.test", "dave@example.test"});
    mutual(spec, "dave@example.test", "carol@example.test");
    spec.component.extra_args = {"--max-incoming-stanza-bytes", "65536"};
    RPSYNC_SCENARIO_START(spec);
    carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "tea"));
    eve = this->comes_online("eve@example.test", "pc", shows(Show::kChat, "hi"));
    ASSERT_TRUE(carol && eve);
    a = this->logs_in(alice, "phone");
    ASSERT_TRUE(a);
    Flood flood = this->flood_of(*a);
    ASSERT_TRUE(flood.complete);
    model = flood.state;
    ASSERT_TRUE(a->sends_enable(this->component(), "e1").ok());
    last = "e1";
  }

  // alice reconnects with her newest key: an empty delta that matches her model.
  void alice_still_syncs(const std::string& after) {
    SCOPED_TRACE("after " + after);
    this->expect_component_alive();
    const proto::SyncKey key = a->key(last);
    a->closes();
    a = this->logs_in(alice, "phone");
    ASSERT_TRUE(a);
    const std::string id = "s" + std::to_string(++rounds);
    std::string why;
    auto delta = delta_of(a->sends_sync(this->component(), id, key), &why);
    ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
    EXPECT_TRUE(delta->empty()) << describe(*delta);
    EXPECT_EQ(delta->state, proto::digest_of(model));
    last = id;
  }

  std::size_t handshakes() {
    return count_of(this->world->component().log(), "handshake.accepted");
  }
};
TYPED_TEST_SUITE(StanzaLimits, Servers, ServerNames);

TYPED_TEST(StanzaLimits, NoStanzaCostsTheStreamAndOthersKeepTheirKeys) {
  auto mallory = this->logs_in("mallory@example.test", "x");
  ASSERT_TRUE(mallory && mallory->sends_presence({}));
  const std::string to = this->component();
  const pid_t pid = this->world->component().pid();
  const long baseline = vm_rss_kib(pid);
  long peak = baseline;
  int n = 0;
  std::string figures;
  auto sends = [&](const std::string& stanza) { return sends_parsed_now(*mallory, stanza); };
  for (const auto& h : hostile_payloads()) {
    SCOPED_TRACE(h.name);
    const std::string id = "h" + std::to_string(++n);
    ASSERT_TRUE(sends("<iq type='set' id='" + id + "' to='" + to +
                      "'><enable xmlns='urn:xmpp:rpsync:0' stream='x'>" + h.payload +
                      "</enable></iq>"));
    Answer answer = mallory->answer_to(id);
    EXPECT_TRUE(is_error(answer, AppCondition::kStanzaTooBig)) << answer.describe();
    EXPECT_EQ(answer.error ? answer.error->condition : Condition::kUndefinedCondition,
              Condition::kPolicyViolation);
    ASSERT_TRUE(sends("<message to='" + to + "'>" + h.payload + "</message>"));
    ASSERT_TRUE(sends("<presence>" + h.payload + "</presence>"));
    ASSERT_TRUE(sends("<presence to='" + to + "'>" + h.payload + "</presence>"));
    ASSERT_TRUE(mallory->settles());
    peak = std::max(peak, vm_rss_kib(pid));
    this->alice_still_syncs(h.name);
    figures += h.name + " -> " + answer.describe() + "; ";
  }
  EXPECT_EQ(this->handshakes(), 1u) << "the component's stream never dropped\n"
                                    << this->world->component().log();
  EXPECT_GE(count_of(this->world->component().log(), "stanza.skipped"), 9u);
  const long after = vm_rss_kib(pid);
  EXPECT_LE(after, baseline + 16 * 1024)
      << "VmRSS KiB: baseline " << baseline << ", after " << after;
  this->report("9c stanza limits", figures + "reconnects 0; VmRSS KiB baseline " +
                                       std::to_string(baseline) + " peak " + std::to_string(peak) +
                                       " after " + std::to_string(after));
}

TYPED_TEST(StanzaLimits, UnreadablePresenceOfAContactIsALocalGap) {
  auto dave = this->logs_in("dave@example.test", "pc");
  ASSERT_TRUE(dave);
  ASSERT_TRUE(this->flood_of(*dave).complete);
  ASSERT_TRUE(dave->sends_enable(this->component(), "d1").ok());
  const proto::SyncKey dave_key = dave->key("d1");
  dave->closes();
  const proto::SyncKey alice_key = this->a->key(this->last);
  this->a->closes();

  // eve's broadcast presence, 420 KB on the component stream: skipped, eve/pc unknown.
  ASSERT_TRUE(this->eve->raw().send_raw("<presence><show>dnd</show><status>" +
                                        std::string(70'000, '\'') + "</status></presence>" +
                                        std::string(4096, ' ')));
  ASSERT_TRUE(this->eve->settles());

  auto d = this->logs_in("dave@example.test", "pc2");
  ASSERT_TRUE(d);
  std::string why;
  auto dave_delta = delta_of(d->sends_sync(this->component(), "d2", dave_key), &why);
  EXPECT_TRUE(dave_delta) << "dave does not see eve: his key is not affected. " << why;

  this->a = this->logs_in(this->alice, "phone");
  ASSERT_TRUE(this->a);
  Answer lost = this->a->sends_sync(this->component(), "s-lost", alice_key);
  EXPECT_TRUE(is_error(lost, AppCondition::kContinuityLost)) << lost.describe();

  // eve's next readable presence makes her known again; alice starts over and syncs.
  ASSERT_TRUE(this->eve->sends_presence(shows(Show::kAway, "back")));
  ASSERT_TRUE(this->eve->settles());
  Flood flood = this->flood_of(*this->a);
  ASSERT_TRUE(flood.complete);
  proto::PresenceState seen = flood.state;
  ASSERT_TRUE(this->a->sends_enable(this->component(), "e2").ok());
  const proto::SyncKey key = this->a->key("e2");
  this->a->closes();
  ASSERT_TRUE(this->eve->sends_presence(shows(Show::kXa, "gone")));
  ASSERT_TRUE(this->eve->settles());
  this->a = this->logs_in(this->alice, "phone");
  ASSERT_TRUE(this->a);
  auto delta = delta_of(this->a->sends_sync(this->component(), "s-ok", key), &why);
  ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
  ASSERT_TRUE(proto::apply(seen, *delta)) << describe(*delta);
  this->expect_model_is_fresh_login(seen, this->alice);
  EXPECT_EQ(this->handshakes(), 1u);
}

}  // namespace
}  // namespace rpsync::test::scenario
