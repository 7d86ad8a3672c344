// SPDX-License-Identifier: MIT
// The feed applied to engines on a real redis-server: admin operations reach every
// instance, and commits carry their feed entries, which peers apply by the
// observer-group rule.
#include "tests/plugin/feed/feed_fixture.h"

namespace rpsync::feed {
namespace {

using namespace feedtest;
using namespace std::chrono_literals;

// ---- admin operations and the observer-group rule, applied to engines ----

struct Instance {
  std::string id, group;
  std::int64_t now = 1'000'000;
  core::Engine engine;
  Loop loop;
  std::unique_ptr<FeedReader> reader;
  std::size_t gaps = 0;
  Applied total;

  static core::EngineOptions options(std::int64_t* now) {
    core::EngineOptions o;
    o.clock = [now] { return *now; };
    return o;
  }
  Instance(const store::RedisTarget& t, std::string id_, std::string group_)
      : id(std::move(id_)), group(std::move(group_)), engine(options(&now)) {
    EXPECT_TRUE(FeedReader::prepare(t, id).ok());
    reader = std::make_unique<FeedReader>(
        t, reader_options(id), loop.executor(),
        [this](const Entry& e) {
          auto a = apply_entry(engine, e, {id, group});
          total.presence += a.presence;
          total.presence_skipped += a.presence_skipped;
          total.sessions += a.sessions;
          total.answerable += a.answerable;
          total.admin += a.admin;
          return true;
        },
        [this](const std::string&) { ++gaps; });
    reader->start();
  }
};

TEST(Feed, PurgeAndInvalidateReachEveryInstance) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  std::vector<std::unique_ptr<Instance>> all;
  for (const char* id : {"i1", "i2", "i3"}) {
    all.push_back(std::make_unique<Instance>(t, id, "g"));
    auto& e = all.back()->engine;
    e.set_roster("alice@x", {"bob@x"});
    e.set_roster("erin@x", {"bob@x"});
    ASSERT_TRUE(e.enable("alice@x", "s", "r", "k1").ok());
    ASSERT_TRUE(e.enable("erin@x", "s", "r", "k1").ok());
  }
  auto admin = writer(t, "admin", "g");
  ASSERT_TRUE(admin->purge_user("alice@x").ok());
  for (auto& in : all)
    EXPECT_TRUE(in->loop.run_until([&] { return in->engine.stats().sessions == 1; }, 5s)) << in->id;
  ASSERT_TRUE(admin->invalidate_keys("*").ok());
  for (auto& in : all) {
    EXPECT_TRUE(in->loop.run_until(
        [&] { return !in->engine.digest_at("erin@x", "s", "r", "k1").has_value(); }, 5s))
        << in->id;
    EXPECT_EQ(in->total.admin, 2u);
    EXPECT_TRUE(in->engine.view("alice@x").empty()) << "purged roster";
    EXPECT_EQ(in->engine.sync("erin@x", "s2", "r", "k2", {"s", "r", "k1"}).error().app,
              proto::AppCondition::kContinuityLost);
  }
}

TEST(Feed, CommitsCarryTheirFeedEntriesAndPeersApplyByObserverGroup) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  // Instance A (observer group "srv1") writes through a RedisStore with the feed hook.
  Instance b(t, "b", "srv1");  // same server as A: presence not applied
  Instance c(t, "c", "srv2");  // another server: presence applied
  std::int64_t now = 1'000'000;
  core::EngineOptions eo;
  eo.clock = [&] { return now; };
  core::Engine a(eo);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  auto opened = store::RedisStore::open_redis(t, {});
  ASSERT_TRUE(opened.ok());
  auto& st = *opened.value();
  auto publisher = std::make_shared<Publisher>(FeedConfig{"a", "srv1"}, t.prefix);
  st.set_commit_hook(commit_hook(publisher, [&](const core::SessionRecord& r) {
    return SessionDigests{
        a.digest_at(r.user, r.stream, r.resource, r.newest.id),
        r.previous ? a.digest_at(r.user, r.stream, r.resource, r.previous->id) : std::nullopt};
  }));
  proto::PresenceFields f;
  f.status = "at work";
  a.observe_available("bob@x/phone", f);
  a.set_roster("alice@x", {"bob@x"});
  ASSERT_TRUE(a.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(st.write(a.take_changes()).ok());
  ASSERT_TRUE(st.flush().ok());
  EXPECT_EQ(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 1) << "one entry per commit";

  ASSERT_TRUE(c.loop.run_until([&] { return c.engine.stats().sessions == 1; }, 5s));
  ASSERT_TRUE(b.loop.run_until([&] { return b.engine.stats().sessions == 1; }, 5s));
  EXPECT_EQ(c.total.presence, 1u);
  EXPECT_EQ(b.total.presence_skipped, 1u);
  EXPECT_EQ(b.total.presence, 0u);
  EXPECT_EQ(c.engine.view("alice@x"), a.view("alice@x"));
  EXPECT_TRUE(b.engine.view("alice@x").empty()) << "b would have seen bob directly";
  // The key enabled at A is answerable at C (same view) and exact after a change.
  EXPECT_EQ(c.total.answerable, 1u);
  EXPECT_EQ(b.total.answerable, 0u) << "b's view differs from the client's: not answerable";
  f.status = "home";
  a.observe_available("bob@x/phone", f);
  ASSERT_TRUE(st.write(a.take_changes()).ok());
  ASSERT_TRUE(st.flush().ok());
  ASSERT_TRUE(c.loop.run_until([&] { return c.total.presence == 2; }, 5s));
  auto at_c = c.engine.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_TRUE(at_c.ok()) << at_c.error().text;
  ASSERT_EQ(at_c->changed.size(), 1u);
  EXPECT_EQ(at_c->changed[0].values.status, "home");
  EXPECT_EQ(at_c->state, a.digest("alice@x"));
  auto at_b = b.engine.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_FALSE(at_b.ok());
  EXPECT_EQ(at_b.error().app, proto::AppCondition::kContinuityLost);
  // The data is in Redis too (same MULTI/EXEC as the entries).
  auto img = st.load();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->sessions.size(), 1u);
}

}  // namespace
}  // namespace rpsync::feed
