// SPDX-License-Identifier: MIT
// The end of a re-learn in slices (Engine::end_resync_step()) leaves the engine exactly as
// the one-shot end_resync() does: the same resources offline, views, digests, deltas,
// versions, tombstones and journal entries (in id order); a presence observed between two
// slices confirms a resource still queued; begin_resync() in the middle starts over.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "plugin/core/engine.h"
#include "protocol/state.h"
#include "tests/plugin/core/presence_fields.h"

namespace rpsync::core {
namespace {

using proto::Show;
using testing::fields;

const std::vector<std::string> kUsers{"u0@x", "u1@x", "u2@x"};

// 12 contacts with 1..3 resources each; u0 sees c0..c5, u1 c4..c11, u2 every other one.
std::unique_ptr<Engine> populated(std::int64_t& now) {
  EngineOptions o;
  o.lifetime_s = 3600;
  o.clock = [&now] { return now; };
  auto e = std::make_unique<Engine>(o);
  std::vector<std::vector<std::string>> rosters(3);
  for (int c = 0; c < 12; ++c) {
    const std::string bare = "c" + std::to_string(c) + "@y";
    if (c < 6) rosters[0].push_back(bare);
    if (c >= 4) rosters[1].push_back(bare);
    if (c % 2 == 0) rosters[2].push_back(bare);
    for (int r = 0; r <= c % 3; ++r)
      e->observe_available(bare + "/r" + std::to_string(r), fields(Show::kNone, "s" + bare));
  }
  for (std::size_t u = 0; u < 3; ++u) {
    e->set_roster(kUsers[u], rosters[u]);
    EXPECT_TRUE(e->enable(kUsers[u], "s", "phone", "k" + std::to_string(u)).ok());
  }
  // Changes after the keys: history the deltas need.
  e->observe_available("c1@y/r0", fields(Show::kAway, "later"));
  e->observe_unavailable("c5@y/r1");
  return e;
}

// The re-send after a reconnect: about half the resources, some of them changed.
void resend(Engine& e) {
  e.begin_resync();
  for (int c = 0; c < 12; c += 2)
    e.observe_available("c" + std::to_string(c) + "@y/r0",
                        fields(Show::kNone, "sc" + std::to_string(c) + "@y"));
  e.observe_available("c4@y/r1", fields(Show::kDnd, "changed"));
  e.observe_available("c7@y/r0", fields(Show::kChat));
}

// The journal as text: resource rows with their versions (the order is part of it).
std::vector<std::string> described(const Batch& b) {
  std::vector<std::string> out;
  for (const Mutation& m : b) {
    std::string s;
    if (const auto* p = std::get_if<PutResource>(&m)) {
      s = "put " + p->jid;
      if (p->versions) s += " since " + std::to_string(p->versions->since);
    } else if (const auto* e = std::get_if<EraseResource>(&m)) {
      s = "erase " + e->jid + (e->drop ? " drop" : "");
      if (e->tombstone)
        s += " tomb " + std::to_string(e->tombstone->since) + "/" +
             std::to_string(e->tombstone->past.size());
    } else {
      s = "other " + std::to_string(m.index());
    }
    out.push_back(s);
  }
  return out;
}

// What a test compares: every user's view, digest and delta from its key, the journal of
// the end, the counts and the version.
struct Outcome {
  std::size_t gone = 0;
  std::vector<proto::PresenceState> views;
  std::vector<proto::StateDigest> digests;
  std::vector<proto::Delta> deltas;
  std::vector<std::string> journal;
  EngineStats stats;
};

Outcome outcome_of(Engine& e, std::size_t gone) {
  Outcome o;
  o.gone = gone;
  o.journal = described(e.take_changes());
  o.stats = e.stats();
  for (std::size_t u = 0; u < kUsers.size(); ++u) {
    o.views.push_back(e.view(kUsers[u]));
    o.digests.push_back(e.digest(kUsers[u]));
    auto d = e.sync(kUsers[u], "s2", "pc", "n" + std::to_string(u),
                    proto::SyncKey{"s", "phone", "k" + std::to_string(u)});
    EXPECT_TRUE(d.ok()) << kUsers[u];
    if (d.ok()) o.deltas.push_back(*d);
  }
  return o;
}

void expect_same(const Outcome& a, const Outcome& b) {
  EXPECT_EQ(a.gone, b.gone);
  EXPECT_EQ(a.views, b.views);
  EXPECT_EQ(a.digests, b.digests);
  EXPECT_EQ(a.deltas, b.deltas);
  EXPECT_EQ(a.journal, b.journal);
  EXPECT_EQ(a.stats.resources, b.stats.resources);
  EXPECT_EQ(a.stats.available, b.stats.available);
  EXPECT_EQ(a.stats.tombstones, b.stats.tombstones);
  EXPECT_EQ(a.stats.history_entries, b.stats.history_entries);
  EXPECT_EQ(a.stats.version, b.stats.version);
}

Outcome one_shot() {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  e->take_changes();
  const std::size_t gone = e->end_resync();
  return outcome_of(*e, gone);
}

// Sliced by `k`; returns how many steps it took in `steps`.
Outcome sliced(std::size_t k, std::size_t* steps) {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  e->take_changes();
  std::size_t gone = 0;
  *steps = 1;
  while (!e->end_resync_step(k, gone)) ++*steps;
  return outcome_of(*e, gone);
}

TEST(ResyncSlices, EverySliceSizeEndsAsTheOneShot) {
  const Outcome ref = one_shot();
  ASSERT_GT(ref.gone, 3u) << "the scenario must leave several resources unconfirmed";
  // Offline in id order: the erasures are journaled in the order the resources were made.
  std::vector<std::string> erased;
  for (const std::string& s : ref.journal)
    if (s.rfind("erase ", 0) == 0) erased.push_back(s.substr(6, s.find(' ', 6) - 6));
  ASSERT_EQ(erased.size(), ref.gone);
  EXPECT_EQ(erased.front(), "c1@y/r0");
  EXPECT_EQ(erased[1], "c1@y/r1");
  for (std::size_t k : {std::size_t{1}, std::size_t{3}, std::size_t{1} << 20}) {
    SCOPED_TRACE("k=" + std::to_string(k));
    std::size_t steps = 0;
    expect_same(sliced(k, &steps), ref);
    if (k == 1) {
      EXPECT_GE(steps, ref.gone);
    }
    if (k == 3) {
      EXPECT_GE(steps, (ref.gone + 2) / 3);
    }
    if (k > ref.gone) {
      EXPECT_EQ(steps, 1u);
    }
  }
}

TEST(ResyncSlices, PresenceBetweenSlicesConfirmsAQueuedResource) {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  std::size_t gone = 0;
  ASSERT_FALSE(e->end_resync_step(1, gone));  // c1@y/r0 offline
  ASSERT_EQ(gone, 1u);
  // c11@y/r1 is still queued (the last ids): its presence arrives now.
  e->observe_available("c11@y/r1", fields(Show::kNone, "sc11@y"));
  while (!e->end_resync_step(1, gone)) {
  }
  EXPECT_TRUE(e->view("u1@x").contains("c11@y/r1"));
  EXPECT_FALSE(e->view("u1@x").contains("c11@y/r2"));
  EXPECT_FALSE(e->view("u0@x").contains("c1@y/r0"));
  // Without that presence the end takes it offline: the arrival made the difference.
  const Outcome ref = one_shot();
  EXPECT_FALSE(ref.views[1].contains("c11@y/r1"));
  EXPECT_EQ(gone + 1, ref.gone);
}

TEST(ResyncSlices, UnavailableBetweenSlicesIsTakenOfflineOnce) {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  std::size_t gone = 0;
  ASSERT_FALSE(e->end_resync_step(1, gone));
  e->observe_unavailable("c11@y/r2");  // queued, goes offline by itself
  e->take_changes();
  while (!e->end_resync_step(1, gone)) {
  }
  for (const std::string& s : described(e->take_changes()))
    EXPECT_EQ(s.find("c11@y/r2"), std::string::npos) << s;
  EXPECT_EQ(gone + 1, one_shot().gone);
}

TEST(ResyncSlices, BeginResyncInTheMiddleStartsOver) {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  std::size_t gone = 0;
  ASSERT_FALSE(e->end_resync_step(2, gone));
  // Reconnected: everything still available is unconfirmed again; nothing is re-sent.
  e->begin_resync();
  const std::size_t left = e->stats().available;
  std::size_t second = 0;
  std::size_t steps = 1;
  while (!e->end_resync_step(3, second)) ++steps;
  EXPECT_EQ(second, left) << "every resource still available went offline";
  EXPECT_EQ(e->stats().available, 0u);
  EXPECT_GE(steps, (left + 2) / 3);
  // And the resync is over: a later presence is kept, a new end takes nothing.
  e->observe_available("c0@y/r0", fields(Show::kNone));
  EXPECT_EQ(e->end_resync(), 0u);
  EXPECT_TRUE(e->view("u0@x").contains("c0@y/r0"));
}

TEST(ResyncSlices, CancelKeepsWhatWasNotYetTakenOffline) {
  std::int64_t now = 1'000'000;
  auto e = populated(now);
  resend(*e);
  std::size_t gone = 0;
  ASSERT_FALSE(e->end_resync_step(1, gone));
  const std::size_t available = e->stats().available;
  e->cancel_resync();
  EXPECT_EQ(e->end_resync(), 0u);
  EXPECT_EQ(e->stats().available, available);
}

TEST(ResyncSlices, WitnessRowsThenSlicesAsTheOneShot) {
  const std::vector<ResourceRecord> rows{{"c1@y/r0", fields(Show::kAway, "later")},
                                         {"c3@y/r0", fields(Show::kXa, "row")}};
  std::int64_t now = 1'000'000;
  auto a = populated(now);
  resend(*a);
  a->take_changes();
  const Engine::ResyncEnd ref = a->end_resync(rows);
  const Outcome ra = outcome_of(*a, ref.gone);
  auto b = populated(now);
  resend(*b);
  b->take_changes();
  Engine::ResyncEnd got = b->adopt_resync_rows(rows);
  EXPECT_EQ(got.gone, 0u);
  while (!b->end_resync_step(2, got.gone)) {
  }
  EXPECT_EQ(got.adopted, ref.adopted);
  EXPECT_EQ(got.kept, ref.kept);
  EXPECT_EQ(ref.kept, 1u);
  EXPECT_EQ(ref.adopted, 1u);
  expect_same(outcome_of(*b, got.gone), ra);
  // Nothing the rows decided was journaled.
  for (const std::string& s : ra.journal) EXPECT_EQ(s.rfind("erase ", 0), std::string::npos) << s;
}

}  // namespace
}  // namespace rpsync::core
