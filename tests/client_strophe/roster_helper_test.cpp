// SPDX-License-Identifier: MIT
// The versioned roster of the libstrophe binding (RFC 6121 2.6): what the get asks for,
// "unchanged" answered from the cache, pushes, a corrupt cache.
#include "client_strophe/roster_helper.h"

#include <gtest/gtest.h>

#include "client_ext/roster_cache.h"
#include "protocol/ns.h"
#include "tests/client_strophe/recording_transport.h"

namespace rpsync::strophe {
namespace {

constexpr const char* kAccount = "alice@example.test";

xml::Element item(const std::string& jid, const std::string& sub) {
  xml::Element i("item", std::string(ns::kRoster));
  i.set_attr("jid", jid);
  i.set_attr("subscription", sub);
  return i;
}

xml::Element query(std::optional<std::string> ver, std::vector<xml::Element> items) {
  xml::Element q("query", std::string(ns::kRoster));
  if (ver) q.set_attr("ver", *ver);
  for (auto& i : items) q.add(std::move(i));
  return q;
}

xml::Element push(xml::Element q, std::string from = {}) {
  xml::Element iq("iq", "jabber:client");
  iq.set_attr("type", "set");
  iq.set_attr("id", "p1");
  if (!from.empty()) iq.set_attr("from", from);
  iq.add(std::move(q));
  return iq;
}

client::CachedRoster cached(std::string ver) {
  return {std::move(ver), {{"bob@example.test", "", "both", "", {"friends"}}}};
}

TEST(RosterHelper, AnEmptyCacheBootstrapsAndAFullResultIsCached) {
  client::MemoryRosterCache cache;
  RosterHelper r;
  r.set_cache(&cache, kAccount);
  const xml::Element get = r.begin(true);
  EXPECT_EQ(get.attr("ver"), std::optional<std::string_view>(""));
  ASSERT_TRUE(
      r.on_result(testing::result("g", "", query("v7", {item("bob@example.test", "both")})), 150));
  EXPECT_TRUE(r.known());
  EXPECT_FALSE(r.stats().from_cache);
  auto saved = cache.load(kAccount);
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->ver, "v7");
  EXPECT_EQ((*saved)->items.size(), 1u);
}

TEST(RosterHelper, UnchangedIsAnsweredFromTheCache) {
  client::MemoryRosterCache cache;
  ASSERT_TRUE(cache.save(kAccount, cached("v3")).ok());
  RosterHelper r;
  r.set_cache(&cache, kAccount);
  EXPECT_EQ(r.begin(true).attr("ver"), std::optional<std::string_view>("v3"));
  ASSERT_TRUE(r.on_result(testing::result("g", ""), 60));
  EXPECT_TRUE(r.stats().from_cache);
  EXPECT_EQ(r.roster(), cached("v3"));
}

TEST(RosterHelper, PushesUpdateRosterAndVersionOnlyFromTheAccount) {
  client::MemoryRosterCache cache;
  ASSERT_TRUE(cache.save(kAccount, cached("v3")).ok());
  RosterHelper r;
  r.set_cache(&cache, kAccount);
  (void)r.begin(true);
  ASSERT_TRUE(r.on_result(testing::result("g", ""), 60));
  EXPECT_FALSE(r.on_push(push(query("v9", {item("mallory@evil.test", "both")}), "evil.test")));
  EXPECT_EQ(r.roster().items.size(), 1u);
  EXPECT_TRUE(r.on_push(push(query("v4", {item("carol@example.test", "to")}), kAccount)));
  EXPECT_TRUE(r.on_push(push(query("v5", {item("bob@example.test", "remove")}))));
  ASSERT_EQ(r.roster().items.size(), 1u);
  EXPECT_EQ(r.roster().items[0].jid, "carol@example.test");
  auto saved = cache.load(kAccount);
  ASSERT_TRUE(saved.ok() && *saved);
  EXPECT_EQ((*saved)->ver, "v5");
  EXPECT_EQ((*saved)->items, r.roster().items);
  EXPECT_TRUE(r.on_push(push(query(std::nullopt, {item("dan@example.test", "both")}))));
  EXPECT_EQ(r.roster().ver, "") << "a push without ver: the next login bootstraps";
}

TEST(RosterHelper, WithoutVersioningTheGetIsPlainAndNothingIsCached) {
  client::MemoryRosterCache cache;
  ASSERT_TRUE(cache.save(kAccount, cached("v3")).ok());
  RosterHelper r;
  r.set_cache(&cache, kAccount);
  EXPECT_FALSE(r.begin(false).attr("ver"));
  ASSERT_TRUE(r.on_result(testing::result("g", "", query(std::nullopt, {})), 40));
  EXPECT_TRUE(r.roster().items.empty());
  EXPECT_EQ(cache.saves(), 1u) << "only the test's own save";
}

// A cache whose record fails its integrity check.
class CorruptCache final : public client::RosterCache {
 public:
  client::RosterLoadResult load(std::string_view) override {
    return Status::corrupt("checksum mismatch");
  }
  Status save(std::string_view, const client::CachedRoster&) override {
    ++saves;
    return {};
  }
  Status erase(std::string_view) override {
    ++erases;
    return {};
  }
  int saves = 0;
  int erases = 0;
};

TEST(RosterHelper, ACorruptCacheIsErasedAndTheRosterFetchedInFull) {
  CorruptCache cache;
  RosterHelper r;
  r.set_cache(&cache, kAccount);
  EXPECT_EQ(r.begin(true).attr("ver"), std::optional<std::string_view>(""));
  EXPECT_EQ(cache.erases, 1);
  ASSERT_TRUE(
      r.on_result(testing::result("g", "", query("v1", {item("bob@example.test", "both")})), 90));
  EXPECT_EQ(cache.saves, 1);
}

}  // namespace
}  // namespace rpsync::strophe
