// SPDX-License-Identifier: MIT
// One contract suite over every Store backend (see plugin/store/store.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "plugin/core/engine.h"
#include "plugin/store/codec.h"
#include "tests/plugin/store/backends.h"

namespace rpsync::store::testing {
namespace {

proto::PresenceFields rich_fields() {
  proto::PresenceFields f;
  f.show = proto::Show::kDnd;
  f.status = "in a meeting \xe2\x80\x94 back at 3";
  f.priority = -5;
  f.caps = proto::Caps{"sha-1", "https://gajim.org", "q07IKJEyjvHSyhy//CH0CxmKi8w="};
  f.photo = "01b87fcd030b72895ff8e88db57ec525450f000d";
  f.idle_since = "2026-11-21T20:00:00Z";
  return f;
}

template <class B>
class StoreContract : public ::testing::Test {
 protected:
  B backend_;
};
TYPED_TEST_SUITE(StoreContract, StoreBackends);

TYPED_TEST(StoreContract, NewStoreLoadsEmpty) {
  auto s = this->backend_.open();
  ASSERT_TRUE(s);
  auto img = s->load();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->epoch, 0u);
  EXPECT_TRUE(img->resources.empty());
  EXPECT_TRUE(img->rosters.empty());
  EXPECT_TRUE(img->sessions.empty());
}

TYPED_TEST(StoreContract, FlushedMutationsSurviveReopenAndLaterOnesWin) {
  // The newest moment carries the digest of the client's state and the key the sync that
  // created it answered (held until it is proven), the previous one neither.
  core::SessionRecord sess{"alice@x",
                           "s1",
                           "phone",
                           {"c2", 3, -17, proto::StateDigest::from_words({~0ull, 2, 0, 4}, 5),
                            core::KeyRef{"s0", "pc", "e"}},
                           core::TxnRecord{"c1", 2, 99, {}}};
  {
    auto s = this->backend_.open();
    ASSERT_TRUE(s);
    core::Batch b;
    b.push_back(core::PutResource{"bob@x/a", proto::PresenceFields{}});
    b.push_back(core::PutResource{"bob@x/a", rich_fields()});  // overrides
    b.push_back(core::PutResource{"carol@x/c", proto::PresenceFields{}});
    b.push_back(core::EraseResource{"carol@x/c"});
    b.push_back(core::PutRoster{"alice@x", {"bob@x", "carol@x"}});
    b.push_back(core::PutRoster{"eve@x", {"bob@x"}});
    b.push_back(core::PutRoster{"eve@x", {}});  // erases
    b.push_back(core::PutSession{sess});
    b.push_back(core::PutSession{{"alice@x", "s0", "pc", {"e", 3, 1, {}}, std::nullopt}});
    b.push_back(core::EraseSession{"alice@x", "s0", "pc"});
    b.push_back(core::PutEpoch{3});
    ASSERT_TRUE(s->write(b).ok());
    ASSERT_TRUE(s->flush().ok());
  }
  auto s = this->backend_.open();
  ASSERT_TRUE(s);
  auto img = s->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->epoch, 3u);
  ASSERT_EQ(img->resources.size(), 1u);
  EXPECT_EQ(img->resources[0].jid, "bob@x/a");
  EXPECT_EQ(img->resources[0].fields, rich_fields());
  ASSERT_EQ(img->rosters.size(), 1u);
  EXPECT_EQ(img->rosters[0], (core::RosterRecord{"alice@x", {"bob@x", "carol@x"}}));
  ASSERT_EQ(img->sessions.size(), 1u);
  EXPECT_EQ(img->sessions[0], sess);
}

TYPED_TEST(StoreContract, ManyBatchesAcrossCommitBoundaries) {
  constexpr int kN = 25000;  // more than one automatic SQLite commit
  {
    auto s = this->backend_.open();
    ASSERT_TRUE(s);
    for (int i = 0; i < kN; i += 1000) {
      core::Batch b;
      for (int j = i; j < i + 1000; ++j) {
        proto::PresenceFields f;
        f.priority = static_cast<std::int8_t>(j % 100);
        b.push_back(core::PutResource{"u" + std::to_string(j) + "@x/r", f});
      }
      ASSERT_TRUE(s->write(b).ok());
    }
    core::Batch erase;
    for (int j = 0; j < kN; j += 2)
      erase.push_back(core::EraseResource{"u" + std::to_string(j) + "@x/r"});
    ASSERT_TRUE(s->write(erase).ok());
    ASSERT_TRUE(s->flush().ok());
  }
  auto img = this->backend_.open()->load();
  ASSERT_TRUE(img.ok());
  ASSERT_EQ(img->resources.size(), static_cast<std::size_t>(kN / 2));
  for (const auto& r : img->resources) {
    int j = std::stoi(r.jid.substr(1));
    EXPECT_EQ(j % 2, 1);
    EXPECT_EQ(r.fields.priority, j % 100);
  }
}

// The engine's journal through a store and back: the restarted engine has the same view,
// old keys fail on continuity, and a session that checkpoints after the restart syncs.
TYPED_TEST(StoreContract, EngineRestartThroughStore) {
  std::int64_t now = 5000;
  core::EngineOptions o;
  o.clock = [&] { return now; };
  proto::PresenceState before;
  {
    core::Engine e(o);
    auto s = this->backend_.open();
    ASSERT_TRUE(s);
    e.restore(*s->load());
    e.set_roster("alice@x", {"bob@x", "carol@x"});
    e.observe_available("bob@x/a", rich_fields());
    e.observe_available("carol@x/c", proto::PresenceFields{});
    e.observe_available("carol@x/d", proto::PresenceFields{});
    e.observe_unavailable("carol@x/d");
    ASSERT_TRUE(e.enable("alice@x", "s1", "phone", "e1").ok());
    ASSERT_TRUE(e.enable("alice@x", "t1", "laptop", "f1").ok());
    ASSERT_TRUE(e.checkpoint("alice@x", "s1", "phone", "e1", "c1").ok());
    ASSERT_TRUE(s->write(e.take_changes()).ok());
    ASSERT_TRUE(s->flush().ok());
    before = e.view("alice@x");
  }
  core::Engine e(o);
  auto s = this->backend_.open();
  ASSERT_TRUE(s);
  auto img = s->load();
  ASSERT_TRUE(img.ok());
  e.restore(*img);
  EXPECT_EQ(e.view("alice@x"), before);
  EXPECT_EQ(e.stats().sessions, 2u);
  auto r = e.sync("alice@x", "s2", "phone", "y1", {"s1", "phone", "c1"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().app, proto::AppCondition::kContinuityLost);
  ASSERT_TRUE(e.checkpoint("alice@x", "t1", "laptop", "f1", "f2").ok());
  e.observe_unavailable("bob@x/a");
  auto d = e.sync("alice@x", "t2", "laptop", "y2", {"t1", "laptop", "f2"});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->unavailable, std::vector<std::string>{"bob@x/a"});
  // The epoch written at restore is higher than the one before: a second restart
  // bumps it again.
  ASSERT_TRUE(s->write(e.take_changes()).ok());
  ASSERT_TRUE(s->flush().ok());
  EXPECT_GT(s->load()->epoch, img->epoch);
}

// The SQLite presence log is folded into its base table; the result must equal a model
// of the same mutations, before and after each fold and across reopen.
TEST(SqliteStore, CompactionKeepsLatestState) {
  TempDir dir;
  const std::string uri = "sqlite:" + (dir.path() / "c.db").string();
  StoreOptions o;
  o.synchronous_full = false;
  o.compact_min_log = 50;
  std::map<std::string, proto::PresenceFields> model;
  std::mt19937 rng(5);
  for (int round = 0; round < 4; ++round) {
    auto s = open_store(uri, o);
    ASSERT_TRUE(s.ok());
    for (int b = 0; b < 20; ++b) {
      core::Batch batch;
      for (int k = 0; k < 30; ++k) {
        std::string jid = "c" + std::to_string(rng() % 40) + "@x/r";
        if (rng() % 3 == 0) {
          model.erase(jid);
          batch.push_back(core::EraseResource{jid});
        } else {
          proto::PresenceFields f;
          f.status = std::to_string(rng() % 1000);
          model[jid] = f;
          batch.push_back(core::PutResource{jid, f});
        }
      }
      ASSERT_TRUE(s.value()->write(batch).ok());
      ASSERT_TRUE(s.value()->flush().ok());
      auto img = s.value()->load();
      ASSERT_TRUE(img.ok());
      std::map<std::string, proto::PresenceFields> got;
      for (const auto& r : img->resources) got[r.jid] = r.fields;
      ASSERT_EQ(got, model) << "round " << round << " batch " << b;
    }
  }
}

TEST(Codec, RejectsMalformedBlobs) {
  std::string good = encode_fields(rich_fields());
  ASSERT_EQ(decode_fields(good), rich_fields());
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_fields(good.substr(0, n)).has_value()) << n;
  EXPECT_FALSE(decode_fields(good + "x").has_value());
  std::string bad_show = good;
  bad_show[1] = 9;
  EXPECT_FALSE(decode_fields(bad_show).has_value());
  std::string c = encode_contacts({"a@x", "b@x"});
  ASSERT_EQ(decode_contacts(c), (std::vector<std::string>{"a@x", "b@x"}));
  EXPECT_FALSE(decode_contacts(c.substr(0, c.size() - 1)).has_value());
  core::TxnRecord n;
  std::optional<core::TxnRecord> p;
  std::string t = encode_txns({"x", 1, -3, {}}, core::TxnRecord{"y", 2, 4, {}});
  ASSERT_TRUE(decode_txns(t, n, p));
  EXPECT_EQ(n, (core::TxnRecord{"x", 1, -3, {}}));
  EXPECT_EQ(p, (core::TxnRecord{"y", 2, 4, {}}));
  EXPECT_FALSE(decode_txns(t.substr(0, t.size() - 1), n, p));
  // With digests: both, or only the previous one's; a record without any decodes as one
  // written before digests were kept (the same bytes).
  const auto d1 = proto::StateDigest::from_words({1, ~0ull, 3, 0}, 7);
  const auto d2 = proto::StateDigest::from_words({0, 0, 0, 9}, 0);
  const core::TxnRecord with{"x", 1, -3, d1};
  const std::string both = encode_txns(with, core::TxnRecord{"y", 2, 4, d2});
  ASSERT_TRUE(decode_txns(both, n, p));
  EXPECT_EQ(n, with);
  EXPECT_EQ(p, (core::TxnRecord{"y", 2, 4, d2}));
  const std::string prev_only = encode_txns({"x", 1, -3, {}}, core::TxnRecord{"y", 2, 4, d2});
  ASSERT_TRUE(decode_txns(prev_only, n, p));
  EXPECT_FALSE(n.digest.has_value());
  EXPECT_EQ(p->digest, d2);
  ASSERT_TRUE(decode_txns(t, n, p));
  EXPECT_FALSE(n.digest.has_value()) << "a decode never keeps an earlier record's digest";
  for (std::size_t cut = t.size() + 1; cut < both.size(); ++cut)
    EXPECT_FALSE(decode_txns(both.substr(0, cut), n, p)) << cut;
  EXPECT_FALSE(decode_txns(encode_txns(with, std::nullopt) + "x", n, p));
  // The key a synced moment retires once proven, with and without digests.
  const core::TxnRecord synced{"x", 1, -3, {}, core::KeyRef{"s", "r", "e1"}};
  const core::TxnRecord synced_d{"x", 1, -3, d1, core::KeyRef{"s", "", "e1"}};
  for (const auto* prev : {&with, static_cast<const core::TxnRecord*>(nullptr)})
    for (const auto* newest : {&synced, &synced_d}) {
      const std::optional<core::TxnRecord> pv =
          prev ? std::optional<core::TxnRecord>(core::TxnRecord{"y", 2, 4, d2}) : std::nullopt;
      const std::string blob = encode_txns(*newest, pv);
      ASSERT_TRUE(decode_txns(blob, n, p));
      EXPECT_EQ(n, *newest);
      EXPECT_EQ(p, pv);
      EXPECT_FALSE(decode_txns(blob.substr(0, blob.size() - 1), n, p));
    }
  ASSERT_TRUE(decode_txns(t, n, p));
  EXPECT_FALSE(n.retires.has_value()) << "a decode never keeps an earlier record's key";
  std::string prev_flag_without_prev = encode_txns({"x", 1, -3, {}}, std::nullopt);
  prev_flag_without_prev += '\x02';
  EXPECT_FALSE(decode_txns(prev_flag_without_prev, n, p));
}

TEST(OpenStore, ChoosesBackendByUri) {
  EXPECT_TRUE(open_store("memory:").ok());
  auto bad = open_store("redis://nowhere");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(proto::to_stanza_error(bad.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto missing_dir = open_store("sqlite:/nonexistent-dir-rpsync/x.db");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(proto::to_stanza_error(missing_dir.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(missing_dir.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace rpsync::store::testing
