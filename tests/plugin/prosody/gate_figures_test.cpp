// SPDX-License-Identifier: MIT
// Measures what mod_rpsync_gate saves: stanzas and bytes an initial presence receives
// (before the answer to a ping sent right after it) with 50 online contacts, each showing
// show/status/priority/caps, once unmarked and once marked. Prints the figures and checks
// only what must hold whatever the exact sizes are.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "tests/plugin/prosody/gate_world.h"

namespace rpsync::test::gate {
namespace {

TEST(RpsyncGateFigures, FiftyOnlineContacts) {
  constexpr int kContacts = 50;
  std::string why;
  bool missing = false;
  WorldOptions options;
  options.online_contacts = kContacts;
  options.offline_contacts = 0;
  options.caps_presence = true;
  auto w = GateWorld::start(options, &why, &missing);
  if (!w) {
    if (missing) GTEST_SKIP() << why;
    FAIL() << why;
  }
  auto plain = w->login("alice", "plain", &why);
  ASSERT_TRUE(plain) << why;
  ASSERT_TRUE(plain->send(presence(false)));
  Received unmarked = collect_until_ping(*plain);
  ASSERT_TRUE(unmarked.complete);
  plain->close();

  auto synced = w->login("alice", "synced", &why);
  ASSERT_TRUE(synced) << why;
  ASSERT_TRUE(synced->send(presence(true)));
  Received marked = collect_until_ping(*synced);
  ASSERT_TRUE(marked.complete);

  for (const auto& s : marked.stanzas) std::printf("  marked got: %s\n", xml::to_string(s).c_str());
  std::printf(
      "rpsync_gate, %d online contacts with caps presence, after initial presence:\n"
      "  unmarked: %zu stanzas (%zu presence), %zu bytes\n"
      "  marked:   %zu stanzas (%zu presence), %zu bytes\n",
      kContacts, unmarked.stanzas.size(), unmarked.presences(), unmarked.bytes,
      marked.stanzas.size(), marked.presences(), marked.bytes);
  RecordProperty("unmarked_stanzas", static_cast<int>(unmarked.stanzas.size()));
  RecordProperty("unmarked_bytes", static_cast<int>(unmarked.bytes));
  RecordProperty("marked_stanzas", static_cast<int>(marked.stanzas.size()));
  RecordProperty("marked_bytes", static_cast<int>(marked.bytes));

  EXPECT_EQ(unmarked.presences(), static_cast<std::size_t>(kContacts + 1));  // + reflection
  EXPECT_EQ(marked.presences(), 1u);                                         // reflection only
  EXPECT_LT(marked.bytes * 10, unmarked.bytes);
}

}  // namespace
}  // namespace rpsync::test::gate
