// SPDX-License-Identifier: MIT
// Scenario 9f: what each server itself accepts from a client and relays to the component,
// per class of hostile stanza and per route, measured on Prosody 0.12 and ejabberd 23.01
// with the harness's configuration (the servers' defaults; docs/ejabberd.md and the spec
// "Stanzas the Component Does Not Read" quote the figures). The component's byte bound is
// 64 KiB, so every class is over one of its bounds.
//
//   for each class (nesting 200 deep, 1000 attributes, 70 KB of ' (420 KB re-escaped),
//   20 KB of ' (over the bound only if the server re-escapes it), an 80 KB status, a 300 KB
//   status) and each route (IQ to the component, message to it,
//   broadcast presence, directed presence to it), a fresh session of mallory (no contact of
//   anyone) sends it once:
//     measured: whether the server kept the sender's stream, how many copies the component
//     skipped (stanza.skipped in its log)
//     asserted: the component never reconnected and is alive; where the sender's stream
//     survived, at least one copy reached the component and was skipped, an IQ was answered
//     stanza-too-big; the 300 KB stanza is over Prosody's c2s_stanza_size_limit (256 KiB:
//     the sender is disconnected, nothing is relayed) while ejabberd, without
//     max_stanza_size, relays it
//
// The hostile classes on ejabberd: StanzaLimits, HostileInput, OversizedDelta, LargeRoster,
// LongStatus and HostileSoak are typed over both servers. Two classes are Prosody-only
// (withheld_presence_test.cpp): directed presence to the component (ejabberd as shipped
// delivers it like any directed presence; its mod_rpsync_gate withholds it, tested in
// tests/plugin/ejabberd_gate) and blocking / privacy lists (the server's per-recipient
// decisions reach the component only through Prosody's mod_rpsync_gate). On ejabberd such
// presence never costs the stream (this test, run without the module).
#include <type_traits>

#include "tests/scenario/hostile_stanzas.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;

template <class Server>
constexpr bool kBoundsClientStanzas = std::is_same_v<Server, ProsodyServer>;  // 256 KiB

const char* const kRouteNames[] = {"IQ", "message", "broadcast presence", "directed presence"};

template <class Server>
class ServerRelays : public Scenario<Server> {
 protected:
  void SetUp() override {
    WorldSpec spec;
    spec.users = {"mallory@example.test", "olga@example.test"};
    spec.component.extra_args = {"--max-incoming-stanza-bytes", "65536"};
    // What the server relays as shipped: on ejabberd without mod_rpsync_gate, whose
    // withholding of presence directed to the component is tested in
    // tests/plugin/ejabberd_gate (Prosody's scenario worlds run without its gate too).
    spec.ejabberd_module = false;
    RPSYNC_SCENARIO_START(spec);
    observer = this->logs_in("olga@example.test", "watch");
    ASSERT_TRUE(observer);
  }

  // Everything routed before now has reached the component: it answers in stream order.
  bool component_caught_up() {
    return observer
        ->sends_iq(this->component(), "get", xml::Element("query", std::string(ns::kDiscoInfo)),
                   "barrier-" + std::to_string(++barriers))
        .ok();
  }
  std::size_t skipped() { return count_of(this->world->component().log(), "stanza.skipped"); }

  std::unique_ptr<Party> observer;
  int barriers = 0;
};
TYPED_TEST_SUITE(ServerRelays, Servers, ServerNames);

TYPED_TEST(ServerRelays, EachClassByEachRoute) {
  std::vector<Hostile> classes = hostile_payloads();
  // 20,000 bytes as sent, over the 64 KiB bound only once the server re-escapes ' (6x).
  classes.push_back(
      {"20 KB of '", "<x xmlns='urn:example:huge'>" + std::string(20'000, '\'') + "</x>"});
  classes.push_back({"80 KB status", "<status>" + std::string(80'000, 'a') + "</status>"});
  classes.push_back({"300 KB status", "<status>" + std::string(300'000, 'a') + "</status>"});
  std::string figures;
  int n = 0;
  for (const auto& c : classes) {
    figures += "\n    " + c.name + ":";
    for (int route = 0; route < 4; ++route) {
      SCOPED_TRACE(c.name + " via " + kRouteNames[route]);
      auto mallory = this->logs_in("mallory@example.test", "m" + std::to_string(++n));
      ASSERT_TRUE(mallory && mallory->sends_presence({}) && mallory->settles());
      ASSERT_TRUE(this->component_caught_up());
      const std::size_t before = this->skipped();
      const std::string id = "h" + std::to_string(n);
      sends_parsed_now(*mallory, route_stanza(route, this->component(), id, c.payload));
      const bool kept = mallory->settles(Millis(3000));
      ASSERT_TRUE(this->component_caught_up());
      const std::size_t copies = this->skipped() - before;
      if (kept) EXPECT_GE(copies, 1u) << "relayed but not skipped";
      if (kept && route == 0)
        EXPECT_TRUE(is_error(mallory->answer_to(id), AppCondition::kStanzaTooBig));
      if (c.name == "300 KB status") EXPECT_EQ(kept, !kBoundsClientStanzas<TypeParam>);
      figures += std::string(" ") + kRouteNames[route] + " " + (kept ? "kept" : "closed") + "/" +
                 std::to_string(copies) + ";";
    }
  }
  this->expect_component_alive();
  EXPECT_EQ(count_of(this->world->component().log(), "handshake.accepted"), 1u)
      << "the component never reconnected";
  this->report("9f server relays", "sender stream / copies skipped by the component:" + figures);
}

}  // namespace
}  // namespace rpsync::test::scenario
