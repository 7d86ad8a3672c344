// SPDX-License-Identifier: MIT
// Resource rows with their change history (versions, past states, tombstones) and key
// moments with their versions, over every Store backend; rows written before history was
// kept still load (as rows without it); malformed history blobs are refused.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/store/codec.h"
#include "tests/plugin/store/backends.h"

namespace rpsync::store::testing {
namespace {

proto::PresenceFields status(std::string s) {
  proto::PresenceFields f;
  f.show = proto::Show::kAway;
  f.status = std::move(s);
  return f;
}

const core::Versions kBobHistory{9, {{3, status("lunch")}, {5, std::nullopt}, {7, status("")}}};
const core::Versions kCarolTomb{8, {{4, status("hi")}}};

template <class B>
class HistoryRows : public ::testing::Test {
 protected:
  B backend_;
};
TYPED_TEST_SUITE(HistoryRows, StoreBackends);

TYPED_TEST(HistoryRows, VersionsPastStatesAndTombstonesRoundTrip) {
  const core::SessionRecord sess{"alice@x", "s1", "phone",
                                 core::TxnRecord{"c2", 3, 10, {}, std::nullopt, 9, 0xfeedfacecafe},
                                 core::TxnRecord{"c1", 3, 5, {}, std::nullopt, 4}};
  {
    auto s = this->backend_.open();
    ASSERT_TRUE(s);
    core::Batch b;
    b.push_back(core::PutResource{"bob@x/a", status("back"), kBobHistory});
    b.push_back(core::PutResource{"carol@x/b", status("hi")});
    b.push_back(core::EraseResource{"carol@x/b", kCarolTomb});  // an offline row
    b.push_back(core::PutResource{"dave@x/c", status("x"), core::Versions{2, {}}});
    b.push_back(core::EraseResource{"dave@x/c", core::Versions{6, {{2, status("x")}}}});
    b.push_back(core::EraseResource{"dave@x/c", std::nullopt, true});  // dropped
    b.push_back(core::PutResource{"eve@x/d", status("old")});          // written without history
    b.push_back(core::PutSession{sess});
    ASSERT_TRUE(s->write(b).ok());
    ASSERT_TRUE(s->flush().ok());
  }
  auto img = this->backend_.open()->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  ASSERT_EQ(img->resources.size(), 2u);
  std::sort(img->resources.begin(), img->resources.end(),
            [](const auto& a, const auto& b) { return a.jid < b.jid; });
  EXPECT_EQ(img->resources[0], (core::ResourceRecord{"bob@x/a", status("back"), kBobHistory}));
  EXPECT_EQ(img->resources[1], (core::ResourceRecord{"eve@x/d", status("old"), std::nullopt}));
  ASSERT_EQ(img->tombstones.size(), 1u);
  EXPECT_EQ(img->tombstones[0], (core::TombstoneRecord{"carol@x/b", kCarolTomb}));
  ASSERT_EQ(img->sessions.size(), 1u);
  EXPECT_EQ(img->sessions[0], sess);
}

// An engine stopped after changes its key did not see yet: restored from the store it
// answers the key with the delta the running engine would have answered.
TYPED_TEST(HistoryRows, RestartedEngineAnswersAnOlderKeyExactly) {
  std::int64_t now = 5000;
  core::EngineOptions o;
  o.clock = [&] { return now; };
  core::Engine e1(o);
  auto s = this->backend_.open();
  ASSERT_TRUE(s);
  e1.restore(*s->load());
  e1.set_roster("alice@x", {"bob@x", "carol@x"});
  e1.observe_available("bob@x/a", status("lunch"));
  e1.observe_available("carol@x/b", status("hi"));
  ASSERT_TRUE(e1.enable("alice@x", "s1", "phone", "e1").ok());
  e1.observe_available("bob@x/a", status("back"));
  e1.observe_unavailable("carol@x/b");
  ASSERT_TRUE(s->write(e1.take_changes()).ok());
  ASSERT_TRUE(s->flush().ok());
  core::Engine e2(o);
  auto img = this->backend_.open()->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  e2.restore(*img);
  EXPECT_EQ(e2.readopt_restored(), 1u);
  auto want = e1.sync("alice@x", "s2", "phone", "y", {"s1", "phone", "e1"});
  auto got = e2.sync("alice@x", "s2", "phone", "y", {"s1", "phone", "e1"});
  ASSERT_TRUE(want.ok());
  ASSERT_TRUE(got.ok()) << got.error().text;
  EXPECT_EQ(*got, *want);
  EXPECT_EQ(got->unavailable, std::vector<std::string>{"carol@x/b"});
  EXPECT_EQ(got->changed.size(), 1u);
}

// A file written before history was kept: its resource rows are bare fields, its key
// moments carry no version. It loads; the rows come without history.
TEST(SqliteHistory, AFileWithoutHistoryLoads) {
  TempDir dir;
  const std::string path = (dir.path() / "old.db").string();
  StoreOptions o;
  o.synchronous_full = false;
  ASSERT_TRUE(open_store("sqlite:" + path, o).ok());  // the schema (unchanged)
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  const std::string f = encode_fields(status("old"));
  const std::string t = encode_txns({"e1", 1, 7, {}}, std::nullopt);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO resources(jid, f) VALUES('bob@x/a', ?1)", -1, &st,
                               nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(st, 1, f.data(), static_cast<int>(f.size()), SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "INSERT INTO sessions(user, stream, resource, txns) "
                               "VALUES('alice@x', 's1', 'phone', ?1)",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(st, 1, t.data(), static_cast<int>(t.size()), SQLITE_STATIC);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
  auto s = open_store("sqlite:" + path, o);
  ASSERT_TRUE(s.ok());
  auto img = s.value()->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  ASSERT_EQ(img->resources.size(), 1u);
  EXPECT_EQ(img->resources[0], (core::ResourceRecord{"bob@x/a", status("old"), std::nullopt}));
  EXPECT_TRUE(img->tombstones.empty());
  ASSERT_EQ(img->sessions.size(), 1u);
  EXPECT_FALSE(img->sessions[0].newest.version.has_value());
}

TEST(HistoryCodec, RejectsMalformedHistory) {
  const std::string good = encode_resource(nullptr, &kBobHistory);
  auto row = decode_resource(good);
  ASSERT_TRUE(row.has_value());
  EXPECT_FALSE(row->fields.has_value());
  EXPECT_EQ(row->versions, kBobHistory);
  for (std::size_t n = 1; n < good.size(); ++n)
    EXPECT_FALSE(decode_resource(good.substr(0, n)).has_value()) << n;
  EXPECT_FALSE(decode_resource(good + "x").has_value());
  const core::Versions disordered{9, {{5, std::nullopt}, {3, status("a")}}};
  EXPECT_FALSE(decode_resource(encode_resource(nullptr, &disordered)).has_value());
  const core::Versions future{4, {{5, std::nullopt}}};
  EXPECT_FALSE(decode_resource(encode_resource(nullptr, &future)).has_value());
  // Without history the blob is the fields' own (what older versions wrote).
  const auto f = status("x");
  EXPECT_EQ(encode_resource(&f, nullptr), encode_fields(f));
  core::TxnRecord n;
  std::optional<core::TxnRecord> p;
  const core::TxnRecord a{"x", 1, -3, {}, std::nullopt, 12, ~0ull};
  const core::TxnRecord b{"y", 1, 2, {}, std::nullopt, 40};
  const std::string t = encode_txns(a, b);
  ASSERT_TRUE(decode_txns(t, n, p));
  EXPECT_EQ(n, a);
  EXPECT_EQ(p, b);
  EXPECT_FALSE(decode_txns(t.substr(0, t.size() - 1), n, p));
  ASSERT_TRUE(decode_txns(encode_txns({"x", 1, -3, {}}, std::nullopt), n, p));
  EXPECT_FALSE(n.version.has_value()) << "a decode never keeps an earlier record's version";
  EXPECT_EQ(n.roster_fp, 0u);
}

}  // namespace
}  // namespace rpsync::store::testing
