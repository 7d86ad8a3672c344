// SPDX-License-Identifier: MIT
// The laws between states and deltas, on random states with fixed seeds.
#include "protocol/state.h"

#include <gtest/gtest.h>

#include <random>

namespace rpsync::proto {
namespace {

PresenceFields random_fields(std::mt19937& rng) {
  PresenceFields p;
  p.show = static_cast<Show>(rng() % 5);
  if (rng() % 2) p.status = "s" + std::to_string(rng() % 4);
  p.priority = static_cast<std::int8_t>(static_cast<int>(rng() % 5) - 2);
  if (rng() % 2) p.caps = Caps{"sha-1", "node", "v" + std::to_string(rng() % 3)};
  if (rng() % 3 == 0) p.photo = "ph" + std::to_string(rng() % 2);
  if (rng() % 4 == 0) p.idle_since = "2026-11-2" + std::to_string(rng() % 2) + "T00:00:00Z";
  return p;
}

PresenceState random_state(std::mt19937& rng) {
  PresenceState s;
  for (int c = 0; c < 20; ++c)
    for (int r = 0; r < 3; ++r)
      if (rng() % 2) s["c" + std::to_string(c) + "@h/r" + std::to_string(r)] = random_fields(rng);
  return s;
}

TEST(State, ApplyOfDiffGivesTheNewStateAndItsDigest) {
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    PresenceState before = random_state(rng);
    PresenceState after = random_state(rng);
    Delta d = diff(before, after);
    // Through the wire and back, as a client would receive it.
    auto wire = parse_delta(std::get<xml::Element>(xml::parse(xml::to_string(to_xml(d)))));
    ASSERT_TRUE(wire.ok()) << wire.error().text;
    PresenceState s = before;
    ASSERT_TRUE(proto::apply(s, *wire));
    EXPECT_EQ(s, after);
    EXPECT_EQ(digest_of(s), wire->state);
  }
}

TEST(State, DiffOfEqualStatesIsEmpty) {
  std::mt19937 rng(1);
  auto s = random_state(rng);
  EXPECT_TRUE(diff(s, s).empty());
}

PresenceFields away() {
  PresenceFields p;
  p.show = Show::kAway;
  return p;
}

TEST(State, ApplyRefusesADeltaThatDoesNotFit) {
  PresenceState s{{"a@h/1", PresenceFields{}}};
  Delta add_existing;
  add_existing.added = {{"a@h/1", PresenceFields{}}};
  PresenceState t = s;
  EXPECT_FALSE(proto::apply(t, add_existing));
  Delta change_missing;
  change_missing.changed = {make_change("b@h/1", PresenceFields{}, away())};
  t = s;
  EXPECT_FALSE(proto::apply(t, change_missing));
  Delta gone_missing;
  gone_missing.unavailable = {"b@h/1"};
  t = s;
  EXPECT_FALSE(proto::apply(t, gone_missing));
}

TEST(State, RemovedContactDropsAllItsResources) {
  PresenceState s{{"a@h/1", {}}, {"a@h/2", {}}, {"a@hx/1", {}}, {"b@h/1", {}}};
  Delta d;
  d.contacts = {{"a@h", ContactChange::Kind::kRemoved}};
  ASSERT_TRUE(proto::apply(s, d));
  EXPECT_EQ(s.size(), 2u);
  EXPECT_TRUE(s.count("a@hx/1"));
  EXPECT_TRUE(s.count("b@h/1"));
}

}  // namespace
}  // namespace rpsync::proto
