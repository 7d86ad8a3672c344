// SPDX-License-Identifier: MIT
// A restart keeps the change history a delta needs: an engine restored from what it
// journaled (through the in-memory store) answers a key taken before changes that happened
// before the stop with the same delta the engine would have answered had it not stopped,
// and a key whose history is unknown fails with continuity-lost.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/store/memory_store.h"
#include "protocol/state.h"
#include "tests/plugin/core/presence_fields.h"

namespace rpsync::core {
namespace {

using proto::AppCondition;
using proto::PresenceFields;
using proto::Show;

using testing::fields;

const std::set<std::string, std::less<>> kLocal{"x"};

class RestartHistoryTest : public ::testing::Test {
 protected:
  std::int64_t now_ = 1'000'000;
  EngineOptions options(bool history = true) {
    EngineOptions o;
    o.lifetime_s = 3600;
    o.history = history;
    o.clock = [this] { return now_; };
    return o;
  }
  std::shared_ptr<store::MemoryData> data_ = std::make_shared<store::MemoryData>();
  store::MemoryStore store_{data_};

  void save(Engine& e) {
    ASSERT_TRUE(store_.write(e.take_changes()).ok());
    ASSERT_TRUE(store_.flush().ok());
  }
  // A new process over the same store: restore, then take keys again (main.cpp's order).
  std::unique_ptr<Engine> restart(bool history = true) {
    auto e = std::make_unique<Engine>(options(history));
    auto img = store_.load();
    EXPECT_TRUE(img.ok());
    e->restore(*img);
    e->readopt_restored();
    return e;
  }
  // alice sees bob, carol and dave (all on x); her key e1 is taken with bob/a, carol/b and
  // dave/c available.
  void world(Engine& e) {
    e.set_roster("alice@x", {"bob@x", "carol@x", "dave@x", "frank@x"});
    e.observe_available("bob@x/a", fields(Show::kAway, "lunch"));
    e.observe_available("carol@x/b", fields(Show::kNone));
    e.observe_available("dave@x/c", fields(Show::kDnd, "busy"));
    ASSERT_TRUE(e.enable("alice@x", "s1", "phone", "e1").ok());
  }
  // Between the key and the stop: a change, an offline, a new resource, one that came and
  // went, and one that went and came back the same.
  // alice's key from before the stop fails after the restart: continuity-lost.
  static void expect_key_lost(Engine& e) {
    auto got = e.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().app, AppCondition::kContinuityLost);
  }
  static void before_stop(Engine& e) {
    e.observe_available("bob@x/a", fields(Show::kAway, "back at 3"));
    e.observe_unavailable("carol@x/b");
    e.observe_available("dave@x/d", fields(Show::kChat));
    e.observe_available("frank@x/f", fields(Show::kNone));
    e.observe_unavailable("frank@x/f");
    e.observe_unavailable("dave@x/c");
    e.observe_available("dave@x/c", fields(Show::kDnd, "busy"));
  }
};

TEST_F(RestartHistoryTest, RestoredEngineAnswersTheDeltaTheRunningOneWould) {
  Engine e1(options());
  world(e1);
  const proto::PresenceState held = e1.view("alice@x");
  before_stop(e1);
  save(e1);
  auto e2 = restart();
  auto want = e1.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  auto got = e2->sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(want.ok());
  ASSERT_TRUE(got.ok()) << proto::to_string(got.error().app) << " " << got.error().text;
  EXPECT_EQ(*got, *want);
  EXPECT_EQ(got->changed.size(), 1u);  // bob/a's status only
  EXPECT_EQ(got->unavailable, std::vector<std::string>{"carol@x/b"});
  EXPECT_EQ(got->added.size(), 1u);  // dave/d; frank/f and dave/c yield nothing
  proto::PresenceState client = held;
  ASSERT_TRUE(proto::apply(client, *got));
  EXPECT_EQ(client, e2->view("alice@x"));
}

TEST_F(RestartHistoryTest, DowntimeChangesAddToTheChangesBeforeTheStop) {
  Engine e1(options());
  world(e1);
  const proto::PresenceState held = e1.view("alice@x");
  before_stop(e1);
  save(e1);
  auto e2 = restart();
  // The re-learn after connecting: bob/a changed again, dave/d went, carol is back.
  e2->begin_resync();
  e2->observe_available("bob@x/a", fields(Show::kXa, "gone home"));
  e2->observe_available("carol@x/b", fields(Show::kNone, "hi"));
  e2->observe_available("dave@x/c", fields(Show::kDnd, "busy"));
  e2->end_resync();
  EXPECT_EQ(e2->close_gap(kLocal).kept, 1u);
  auto got = e2->sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(got.ok()) << proto::to_string(got.error().app) << " " << got.error().text;
  proto::PresenceState client = held;
  ASSERT_TRUE(proto::apply(client, *got));
  EXPECT_EQ(client, e2->view("alice@x"));
  EXPECT_EQ(got->state, proto::digest_of(client));
  EXPECT_EQ(client.size(), 3u);
}

TEST_F(RestartHistoryTest, TwoRestartsInARowKeepTheHistory) {
  Engine e1(options());
  world(e1);
  const proto::PresenceState held = e1.view("alice@x");
  before_stop(e1);
  save(e1);
  auto e2 = restart();
  e2->observe_available("bob@x/a", fields(Show::kNone, "third"));
  save(*e2);
  auto e3 = restart();
  auto got = e3->sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "e1"});
  ASSERT_TRUE(got.ok()) << proto::to_string(got.error().app) << " " << got.error().text;
  proto::PresenceState client = held;
  ASSERT_TRUE(proto::apply(client, *got));
  EXPECT_EQ(client, e3->view("alice@x"));
}

TEST_F(RestartHistoryTest, RowsWithoutHistoryFailAChangedKeyAsBefore) {
  Engine e1(options(false));  // rows and moments as older versions wrote them
  world(e1);
  before_stop(e1);
  save(e1);
  for (const auto& [jid, r] : data_->resources) EXPECT_FALSE(r.versions.has_value()) << jid;
  EXPECT_TRUE(data_->tombstones.empty());
  auto e2 = restart();
  expect_key_lost(*e2);
}

TEST_F(RestartHistoryTest, AContactWithoutVersionsFailsTheKeyOfItsViewer) {
  Engine e1(options());
  world(e1);
  before_stop(e1);
  save(e1);
  // bob's row as an older version wrote it: his history before the stop is unknown.
  data_->resources["bob@x/a"].versions.reset();
  auto e2 = restart();
  expect_key_lost(*e2);
  // The restore wrote bob's row again with a version: the next restart knows it.
  save(*e2);
  EXPECT_TRUE(data_->resources["bob@x/a"].versions.has_value());
}

// The roster changed between the key and the stop (a contact without presence was added):
// the running engine would report the contact; the restored roster is not the key's, so
// the view at the key is not rebuilt, and the changed presence fails it.
TEST_F(RestartHistoryTest, ARosterChangedBeforeTheStopIsNotRebuilt) {
  Engine e1(options());
  world(e1);
  e1.set_roster("alice@x", {"bob@x", "carol@x", "dave@x", "frank@x", "gina@x"});
  e1.observe_available("bob@x/a", fields(Show::kAway, "back at 3"));
  auto want = e1.sync("alice@x", "s9", "tablet", "z", {"s1", "phone", "e1"});
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(want->contacts.size(), 1u);  // gina added
  save(e1);
  auto e2 = restart();
  expect_key_lost(*e2);
}

TEST_F(RestartHistoryTest, AKeyFromAnEarlierEpochIsNotRebuilt) {
  Engine e1(options());
  world(e1);
  before_stop(e1);
  e1.gap();  // the view may have missed changes: the key is lost for good
  save(e1);
  auto e2 = restart();
  expect_key_lost(*e2);
}

TEST_F(RestartHistoryTest, AKeyTakenWhileAContactWasUnknownIsNotRebuilt) {
  Engine e1(options());
  e1.set_roster("alice@x", {"bob@x", "carol@x"});
  e1.observe_available("bob@x/a", fields(Show::kAway));
  e1.observe_unknown("carol@x/b");
  ASSERT_TRUE(e1.enable("alice@x", "s1", "phone", "e1").ok());
  e1.observe_available("bob@x/a", fields(Show::kNone));
  save(e1);
  ASSERT_EQ(data_->sessions.size(), 1u);
  EXPECT_FALSE(data_->sessions.begin()->second.newest.version.has_value());
  auto e2 = restart();
  expect_key_lost(*e2);
}

TEST_F(RestartHistoryTest, TombstonesAreDroppedFromTheStoreWhenNoKeyNeedsThem) {
  Engine e1(options());
  world(e1);
  e1.observe_unavailable("carol@x/b");
  save(e1);
  EXPECT_EQ(data_->tombstones.count("carol@x/b"), 1u);
  ASSERT_TRUE(e1.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
  ASSERT_TRUE(e1.checkpoint("alice@x", "s1", "phone", "c1", "c2").ok());
  e1.expire();
  save(e1);
  EXPECT_EQ(data_->tombstones.count("carol@x/b"), 0u);
  EXPECT_EQ(e1.stats().tombstones, 0u);
}

}  // namespace
}  // namespace rpsync::core
