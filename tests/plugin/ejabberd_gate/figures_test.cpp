// SPDX-License-Identifier: MIT
// Measures what mod_rpsync_gate saves on ejabberd 23.01: presence, stanzas and bytes an
// initial presence receives (until the causal barrier of ej_world.h) with 50 online
// contacts, each showing show/status/priority/caps, once unmarked and once marked; and how
// many probes the server sent (each online contact answers one probe with one presence).
// Prints the figures and checks only what must hold whatever the exact sizes are.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "tests/plugin/ejabberd_gate/ej_world.h"

namespace rpsync::test::ejgate {
namespace {

TEST(EjabberdGateFigures, FiftyOnlineContacts) {
  constexpr int kContacts = 50;
  std::string why;
  bool missing = false;
  WorldOptions options;
  options.online_contacts = kContacts;
  options.offline_contacts = 0;
  options.caps_presence = true;
  auto w = EjWorld::start(options, &why, &missing);
  if (!w) {
    if (missing) GTEST_SKIP() << why;
    FAIL() << why;
  }
  auto plain = w->login("alice", "plain", &why);
  ASSERT_TRUE(plain) << why;
  ASSERT_TRUE(plain->send(presence(false)));
  Received unmarked = w->barrier(*plain);
  ASSERT_TRUE(unmarked.complete);
  plain->close();

  auto synced = w->login("alice", "synced", &why);
  ASSERT_TRUE(synced) << why;
  ASSERT_TRUE(synced->send(presence(true)));
  Received marked = w->barrier(*synced);
  ASSERT_TRUE(marked.complete);

  for (const auto& s : marked.stanzas) std::printf("  marked got: %s\n", xml::to_string(s).c_str());
  std::printf(
      "ejabberd mod_rpsync_gate, %d online contacts with caps presence, after initial "
      "presence:\n"
      "  unmarked: %zu probe answers, %zu stanzas (%zu presence), %zu bytes\n"
      "  marked:   %zu probe answers, %zu stanzas (%zu presence), %zu bytes\n",
      kContacts, contact_presences(unmarked), unmarked.stanzas.size(), unmarked.presences(),
      unmarked.bytes, contact_presences(marked), marked.stanzas.size(), marked.presences(),
      marked.bytes);
  RecordProperty("unmarked_stanzas", static_cast<int>(unmarked.stanzas.size()));
  RecordProperty("unmarked_bytes", static_cast<int>(unmarked.bytes));
  RecordProperty("marked_stanzas", static_cast<int>(marked.stanzas.size()));
  RecordProperty("marked_bytes", static_cast<int>(marked.bytes));

  EXPECT_EQ(contact_presences(unmarked), static_cast<std::size_t>(kContacts));
  EXPECT_EQ(unmarked.presences(), static_cast<std::size_t>(kContacts + 1));  // + reflection
  EXPECT_EQ(marked.presences(), 1u);                                         // reflection only
  EXPECT_LT(marked.bytes * 10, unmarked.bytes);
}

}  // namespace
}  // namespace rpsync::test::ejgate
