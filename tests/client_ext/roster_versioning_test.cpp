// SPDX-License-Identifier: MIT
// Unit tests of roster versioning's pure parts: the cache helpers, the request decision,
// what RosterVersioning makes of results and pushes (gloox tags parsed by gloox), and the
// SQLite roster table with its integrity check.
#include "client_ext/roster_versioning.h"

#include <gloox/parser.h>
#include <gloox/tag.h>
#include <gloox/taghandler.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "client_ext/roster_cache.h"
#include "client_ext/sqlite_roster_cache.h"
#include "client_ext/sqlite_session_store.h"
#include "client_ext/store.h"
#include "test_env.h"
#include "tests/client_ext/record_of.h"

namespace rpsync::client {
namespace {

CachedRosterItem item(std::string jid, std::string sub = "both", std::string name = {},
                      std::vector<std::string> groups = {}) {
  return {std::move(jid), std::move(name), std::move(sub), {}, std::move(groups)};
}

CachedRoster sample() {
  CachedRoster r{"7",
                 {item("bob@example.test", "both", "Bob", {"Friends", "Work"}),
                  item("carol@example.test", "to"), item("dave@example.test", "from")}};
  canonicalise(r.items);
  return r;
}

// ---- cache helpers --------------------------------------------------------------

TEST(RosterCacheHelpers, CanonicaliseSortsAndKeepsTheLaterDuplicate) {
  std::vector<CachedRosterItem> items{item("z@x"), item("a@x", "to"), item("a@x", "both")};
  canonicalise(items);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].jid, "a@x");
  EXPECT_EQ(items[0].subscription, "both");
  EXPECT_EQ(items[1].jid, "z@x");
}

TEST(RosterCacheHelpers, ApplyPushAddsReplacesAndRemoves) {
  CachedRoster r = sample();
  apply_push(r, item("aaron@example.test", "none"));
  apply_push(r, item("carol@example.test", "both", "Carol"));
  apply_push(r, item("dave@example.test", "remove"));
  apply_push(r, item("nobody@example.test", "remove"));
  ASSERT_EQ(r.items.size(), 3u);
  EXPECT_EQ(r.items[0].jid, "aaron@example.test");
  EXPECT_EQ(r.items[1].jid, "bob@example.test");
  EXPECT_EQ(r.items[2].jid, "carol@example.test");
  EXPECT_EQ(r.items[2].name, "Carol");
  EXPECT_EQ(r.items[2].subscription, "both");
}

TEST(RosterCacheHelpers, ChecksumCoversEveryField) {
  const CachedRoster base = sample();
  const std::string c = roster_checksum(base);
  EXPECT_EQ(c, roster_checksum(sample()));
  auto changed = [&](auto&& mutate) {
    CachedRoster r = sample();
    mutate(r);
    return roster_checksum(r) != c;
  };
  EXPECT_TRUE(changed([](CachedRoster& r) { r.ver = "8"; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items[0].name = "Rob"; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items[1].subscription = "both"; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items[1].ask = "subscribe"; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items[0].groups = {"FriendsWork"}; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items[0].groups = {"Friends", "Work", ""}; }));
  EXPECT_TRUE(changed([](CachedRoster& r) { r.items.pop_back(); }));
}

// ---- the decision (RFC 6121 §2.6.2/2.6.3) -------------------------------------------

TEST(RosterRequestPlan, PlainWithoutCacheOrWithoutServerFeature) {
  RosterLoadResult loaded = std::optional<CachedRoster>{sample()};
  EXPECT_EQ(plan_roster_request(false, true, loaded).kind, RosterRequestKind::kPlain);
  EXPECT_EQ(plan_roster_request(true, false, loaded).kind, RosterRequestKind::kPlain)
      << "no ver unless the server advertised urn:xmpp:features:rosterver";
  EXPECT_EQ(plan_roster_request(false, false, loaded).kind, RosterRequestKind::kPlain);
}

TEST(RosterRequestPlan, VersionedWithAValidCache) {
  const RosterRequest r = plan_roster_request(true, true, std::optional<CachedRoster>{sample()});
  EXPECT_EQ(r.kind, RosterRequestKind::kVersioned);
  EXPECT_EQ(r.ver, "7");
}

TEST(RosterRequestPlan, BootstrapWhenNothingUsableIsCached) {
  EXPECT_EQ(plan_roster_request(true, true, std::optional<CachedRoster>{}).kind,
            RosterRequestKind::kBootstrap);
  EXPECT_EQ(plan_roster_request(true, true, Status::corrupt("x")).kind,
            RosterRequestKind::kBootstrap);
  EXPECT_EQ(plan_roster_request(true, true, Status::io_error("x")).kind,
            RosterRequestKind::kBootstrap);
  CachedRoster unversioned = sample();
  unversioned.ver.clear();
  const RosterRequest r = plan_roster_request(true, true, std::optional<CachedRoster>{unversioned});
  EXPECT_EQ(r.kind, RosterRequestKind::kBootstrap);
  EXPECT_EQ(r.ver, "");
}

// ---- RosterVersioning on gloox tags ---------------------------------------------

constexpr const char* kAccount = "alice@example.test";
using testing::TempDir;

// The first stanza of `xml`, parsed by gloox inside a stream as gloox would see it.
std::unique_ptr<gloox::Tag> stanza(const std::string& xml) {
  struct Collector : gloox::TagHandler {
    std::unique_ptr<gloox::Tag> tag;
    void handleTag(gloox::Tag* t) override {
      if (t->name() != "stream" && !tag) tag.reset(t->clone());
    }
  } collector;
  gloox::Parser parser(&collector);
  std::string doc =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + xml;
  parser.feed(doc);
  EXPECT_TRUE(collector.tag) << xml;
  return std::move(collector.tag);
}

TEST(RosterVersioning, WithoutCacheNothingIsTouched) {
  RosterVersioning v;
  const RosterRequest r = v.begin(kAccount, true);
  EXPECT_EQ(r.kind, RosterRequestKind::kPlain);
  v.sent("r1");
  auto result = stanza(
      "<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='3'>"
      "<item jid='bob@example.test' subscription='both'/></query></iq>");
  EXPECT_EQ(v.incoming(*result), nullptr);
  EXPECT_EQ(v.live(), nullptr);
  EXPECT_FALSE(v.stats().from_cache);
  EXPECT_EQ(v.stats().result_bytes, result->xml().size());
}

TEST(RosterVersioning, ServerWithoutFeatureGetsNoVerAndNoCacheWrite) {
  MemoryRosterCache cache;
  ASSERT_TRUE(cache.save(kAccount, sample()).ok());
  RosterVersioning v;
  v.set_cache(&cache);
  EXPECT_EQ(v.begin(kAccount, /*server_rosterver=*/false).kind, RosterRequestKind::kPlain);
  v.sent("r1");
  auto result = stanza(
      "<iq type='result' id='r1'><query xmlns='jabber:iq:roster'>"
      "<item jid='eve@example.test' subscription='both'/></query></iq>");
  EXPECT_EQ(v.incoming(*result), nullptr);
  EXPECT_EQ(cache.saves(), 1u);
  EXPECT_EQ(record_of(cache.load(kAccount)), sample());
}

TEST(RosterVersioning, BootstrapStoresTheFullRoster) {
  MemoryRosterCache cache;
  RosterVersioning v;
  v.set_cache(&cache);
  const RosterRequest r = v.begin(kAccount, true);
  EXPECT_EQ(r.kind, RosterRequestKind::kBootstrap);
  v.sent("r1");
  auto result = stanza(
      "<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='7'>"
      "<item jid='dave@example.test' subscription='from'/>"
      "<item jid='bob@example.test' name='Bob' subscription='both'><group>Friends</group>"
      "<group>Work</group></item>"
      "<item jid='carol@example.test' subscription='to'/></query></iq>");
  EXPECT_EQ(v.incoming(*result), nullptr) << "a full result goes to gloox unchanged";
  const RosterLoadResult stored = cache.load(kAccount);
  ASSERT_TRUE(record_of(stored));
  EXPECT_EQ(*record_of(stored), sample());
  ASSERT_NE(v.live(), nullptr);
  EXPECT_EQ(*v.live(), sample());
}

TEST(RosterVersioning, EmptyResultIsReplacedByTheCachedRoster) {
  MemoryRosterCache cache;
  ASSERT_TRUE(cache.save(kAccount, sample()).ok());
  RosterVersioning v;
  v.set_cache(&cache);
  const RosterRequest r = v.begin(kAccount, true);
  ASSERT_EQ(r.kind, RosterRequestKind::kVersioned);
  EXPECT_EQ(r.ver, "7");
  v.sent("r1");
  auto empty = stanza("<iq type='result' id='r1' to='alice@example.test/x'/>");
  auto full = v.incoming(*empty);
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(v.stats().from_cache);
  EXPECT_EQ(v.stats().result_bytes, empty->xml().size());
  EXPECT_EQ(full->findAttribute("id"), "r1");
  EXPECT_EQ(full->findAttribute("type"), "result");
  const gloox::Tag* q = roster_query(*full);
  ASSERT_NE(q, nullptr) << full->xml();
  EXPECT_EQ(q->findAttribute("ver"), "7");
  EXPECT_EQ(items_from_query(*q), sample().items);
  EXPECT_EQ(cache.saves(), 1u) << "nothing changed, nothing written";
}

// A client with sample() cached, after its versioned roster get "r1" was sent.
class RosterVersioningCached : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cache.save(kAccount, sample()).ok());
    v.set_cache(&cache);
    v.begin(kAccount, true);
    v.sent("r1");
  }
  MemoryRosterCache cache;
  RosterVersioning v;
};

TEST_F(RosterVersioningCached, StaleVersionAnsweredInFullReplacesTheCache) {
  auto result = stanza(
      "<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='9'>"
      "<item jid='eve@example.test' subscription='both'/></query></iq>");
  EXPECT_EQ(v.incoming(*result), nullptr);
  EXPECT_FALSE(v.stats().from_cache);
  const CachedRoster expected{"9", {item("eve@example.test")}};
  EXPECT_EQ(record_of(cache.load(kAccount)), expected);
}

TEST_F(RosterVersioningCached, PushesUpdateTheCacheAndItsVersion) {
  ASSERT_NE(v.incoming(*stanza("<iq type='result' id='r1'/>")), nullptr);
  // Incremental answer (RFC 6121 §2.6.3): pushes follow; intermediate vers are opaque.
  EXPECT_EQ(v.incoming(*stanza("<iq type='set' id='p1'><query xmlns='jabber:iq:roster' "
                               "ver='8a'><item jid='carol@example.test' subscription='remove'/>"
                               "</query></iq>")),
            nullptr);
  EXPECT_EQ(record_of(cache.load(kAccount))->ver, "8a");
  v.incoming(
      *stanza("<iq type='set' id='p2' from='alice@example.test'><query "
              "xmlns='jabber:iq:roster' ver='9'><item jid='eve@example.test' name='Eve' "
              "subscription='none' ask='subscribe'/></query></iq>"));
  // Not from the account: not a roster push (RFC 6121 §2.1.6).
  v.incoming(
      *stanza("<iq type='set' id='p3' from='mallory@example.test'><query "
              "xmlns='jabber:iq:roster' ver='10'><item jid='bob@example.test' "
              "subscription='remove'/></query></iq>"));
  const RosterLoadResult stored = cache.load(kAccount);
  ASSERT_TRUE(record_of(stored));
  EXPECT_EQ(record_of(stored)->ver, "9");
  CachedRoster expected = sample();
  expected.ver = "9";
  expected.items.erase(expected.items.begin() + 1);  // carol
  expected.items.push_back({"eve@example.test", "Eve", "none", "subscribe", {}});
  EXPECT_EQ(*record_of(stored), expected);
  EXPECT_EQ(v.stats().pushes, 2u);
}

TEST_F(RosterVersioningCached, PushWithoutVerMakesTheNextLoginBootstrap) {
  v.incoming(*stanza("<iq type='result' id='r1'/>"));
  v.incoming(
      *stanza("<iq type='set' id='p1'><query xmlns='jabber:iq:roster'>"
              "<item jid='eve@example.test'/></query></iq>"));
  EXPECT_EQ(v.begin(kAccount, true).kind, RosterRequestKind::kBootstrap);
}

TEST(RosterVersioning, CorruptCacheIsErasedAndTheRosterFetchedInFull) {
  struct Corrupt final : RosterCache {
    RosterLoadResult load(std::string_view) override { return Status::corrupt("checksum"); }
    Status save(std::string_view, const CachedRoster& r) override {
      saved = r;
      return {};
    }
    Status erase(std::string_view) override {
      ++erased;
      return {};
    }
    std::optional<CachedRoster> saved;
    int erased = 0;
  } cache;
  RosterVersioning v;
  v.set_cache(&cache);
  const RosterRequest r = v.begin(kAccount, true);
  EXPECT_EQ(r.kind, RosterRequestKind::kBootstrap);
  EXPECT_EQ(v.stats().load_status.code(), StatusCode::kCorrupt);
  EXPECT_EQ(cache.erased, 1);
  v.sent("r1");
  v.incoming(
      *stanza("<iq type='result' id='r1'><query xmlns='jabber:iq:roster' ver='2'>"
              "<item jid='bob@example.test' subscription='both'/></query></iq>"));
  ASSERT_TRUE(cache.saved);
  EXPECT_EQ(cache.saved->ver, "2");
}

TEST(RosterVersioning, EmptyAnswerToABootstrapIsLeftAlone) {
  MemoryRosterCache cache;
  RosterVersioning v;
  v.set_cache(&cache);
  v.begin(kAccount, true);
  v.sent("r1");
  EXPECT_EQ(v.incoming(*stanza("<iq type='result' id='r1'/>")), nullptr);
  EXPECT_FALSE(v.stats().from_cache);
}

// ---- SQLite roster table --------------------------------------------------------

void exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  EXPECT_EQ(sqlite3_changes(db), 1) << sql;
  sqlite3_close(db);
}

// One save or load with the database opened for it alone (as a new process would).
Status save_roster(const std::string& path, std::string_view account, const CachedRoster& r) {
  SqliteDatabase db(path);
  return SqliteRosterCache(db).save(account, r);
}
RosterLoadResult load_roster(const std::string& path, std::string_view account) {
  SqliteDatabase db(path);
  return SqliteRosterCache(db).load(account);
}

TEST(SqliteRosterCache, RoundTripSurvivesReopen) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    SqliteDatabase s_db(path);
    SqliteRosterCache s(s_db);
    RosterCache& cache = s;
    ASSERT_TRUE(cache.save(kAccount, sample()).ok());
    CachedRoster other{"1", {item("x@example.test", "none", "weird\nname", {"a:b", "3:c", ""})}};
    ASSERT_TRUE(cache.save("other@example.test", other).ok());
  }
  SqliteDatabase s_db(path);
  SqliteRosterCache s(s_db);
  const RosterLoadResult loaded = s.load(kAccount);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(record_of(loaded), sample());
  const RosterLoadResult other = s.load("other@example.test");
  ASSERT_TRUE(record_of(other));
  EXPECT_EQ(record_of(other)->items[0].groups, (std::vector<std::string>{"a:b", "3:c", ""}));
  EXPECT_FALSE(record_of(s.load("nobody@example.test")));
}

TEST(SqliteRosterCache, SessionAndRosterAreSeparateRecords) {
  TempDir dir;
  SqliteDatabase s_db(dir.file("state.db"));
  SqliteSessionStore s(s_db);
  SqliteRosterCache s_rosters(s_db);
  ASSERT_TRUE(s_rosters.save(kAccount, sample()).ok());
  SavedSession session;
  session.component = "rpsync.example.test";
  session.key = {"s", "r", "l"};
  ASSERT_TRUE(s.save(kAccount, session).ok());
  SessionStore& sessions = s;
  ASSERT_TRUE(sessions.erase(kAccount).ok());
  EXPECT_FALSE(record_of(s.load(kAccount)));
  EXPECT_EQ(record_of(s_rosters.load(kAccount)), sample())
      << "erasing the session keeps the roster";
  ASSERT_TRUE(s.save(kAccount, session).ok());
  RosterCache& rosters = s_rosters;
  ASSERT_TRUE(rosters.erase(kAccount).ok());
  EXPECT_FALSE(record_of(s_rosters.load(kAccount)));
  EXPECT_TRUE(record_of(s.load(kAccount))) << "erasing the roster keeps the session";
}

TEST(SqliteRosterCache, EditedItemIsReportedCorrupt) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  { ASSERT_TRUE(save_roster(path, kAccount, sample()).ok()); }
  exec(path, "UPDATE rpsync_roster_item SET subscription='none' WHERE jid='carol@example.test'");
  SqliteDatabase s_db(path);
  SqliteRosterCache s(s_db);
  const RosterLoadResult loaded = s.load(kAccount);
  EXPECT_EQ(loaded.status().code(), StatusCode::kCorrupt) << loaded.status().message();
  EXPECT_FALSE(record_of(loaded));
}

TEST(SqliteRosterCache, MissingRowOrWrongCountIsReportedCorrupt) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  { ASSERT_TRUE(save_roster(path, kAccount, sample()).ok()); }
  exec(path, "UPDATE rpsync_roster SET count = count + 1");
  EXPECT_EQ(load_roster(path, kAccount).status().code(), StatusCode::kCorrupt);
  { ASSERT_TRUE(save_roster(path, kAccount, sample()).ok()); }
  exec(path, "DELETE FROM rpsync_roster_item WHERE jid='bob@example.test'");
  EXPECT_EQ(load_roster(path, kAccount).status().code(), StatusCode::kCorrupt);
  { ASSERT_TRUE(save_roster(path, kAccount, sample()).ok()); }
  exec(path, "UPDATE rpsync_roster_item SET groups = X'393A' WHERE jid='bob@example.test'");
  EXPECT_EQ(load_roster(path, kAccount).status().code(), StatusCode::kCorrupt);
}

}  // namespace
}  // namespace rpsync::client
