// SPDX-License-Identifier: MIT
// Replica (plugin/feed/replica.h) on a real redis-server: the feed's readiness reaches the
// service as not-ready and back, continuity is decided, a peer's admin entry is applied on
// the owner's thread. Entries are applied through a queue the test drains (the "event
// loop"), as main() does with asio::post.
#include "plugin/feed/replica.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "plugin/feed/continuity.h"
#include "tests/harness/redis/redis_server.h"
#include "tests/plugin/service/service_fixture.h"

namespace rpsync::app {
namespace {

using namespace std::chrono_literals;

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::RedisServer::find_executable())
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)";
    std::string why;
    test::RedisOptions o;
    o.appendfsync = "no";
    redis = test::RedisServer::start(o, &why);
    ASSERT_TRUE(redis) << why;
    config.store = redis->uri(0, "rpsync");
    config.instance_id = "a";
    config.observer_group = "srv";
    config.heartbeat_ttl_ms = 1500;
    target = store::parse_redis_uri(config.store).value();
    core::EngineOptions eo;
    eo.clock = wall_ms;
    engine = std::make_unique<core::Engine>(eo);
    auto replica_or = Replica::prepare(config, target, logger);
    ASSERT_TRUE(replica_or.ok()) << replica_or.status().message();
    replica = std::move(replica_or).value();
    store = std::move(store::RedisStore::open_redis(target, {})).value();
    engine->restore(store->load().value());
    service::ServiceConfig sc;
    sc.component_jid = "rpsync.example.test";
    sc.domains = {"example.test"};
    sc.on_connect = service::ServiceConfig::OnConnect::kKeep;
    adjust(sc);
    service = std::make_unique<service::Service>(sc, *engine, *store, transport, logger, wall_ms);
    replica->start(*engine, *store, *service, [this](std::function<void()> f) {
      std::lock_guard lock(mu);
      tasks.push_back(std::move(f));
    });
    service->on_connected(true);
  }
  void TearDown() override {
    if (replica) replica->stop();
  }
  virtual void adjust(service::ServiceConfig&) {}

  // One turn of the event loop: queued feed tasks, then the ticks.
  void turn() {
    std::deque<std::function<void()>> run;
    {
      std::lock_guard lock(mu);
      run.swap(tasks);
    }
    for (auto& f : run) f();
    service->tick();
    replica->tick(now_ms());
    if (also) also();
  }
  template <class Pred>
  bool turns_until(Pred pred, std::chrono::milliseconds timeout = 8000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      turn();
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  // The app's reason a request is refused now ("" when it would be admitted).
  std::string refusal() {
    service->on_stanza(service::test::stanza(
        "<iq type='set' id='q' from='alice@example.test/phone' to='rpsync.example.test'>"
        "<disable xmlns='urn:xmpp:rpsync:0' stream='x'/></iq>"));
    if (transport.sent.empty()) return "";  // admitted (or waiting for nothing): fine
    auto reply = transport.take();
    const xml::Element* e = reply.child("error");
    if (!e) return "";
    return proto::parse_stanza_error(*e).value_or(proto::StanzaError{}).text;
  }

  std::unique_ptr<test::RedisServer> redis;
  AppConfig config;
  store::RedisTarget target;
  log::NullLogger logger;
  service::test::FakeTransport transport;
  std::unique_ptr<core::Engine> engine;
  std::unique_ptr<store::RedisStore> store;
  std::unique_ptr<service::Service> service;
  std::unique_ptr<Replica> replica;
  std::mutex mu;
  std::deque<std::function<void()>> tasks;
  std::function<void()> also;  // run at the end of every turn
};

TEST_F(ReplicaTest, NotReadyUntilCaughtUpAndDecidedThenFollowsRedis) {
  EXPECT_FALSE(service->ready()) << "nothing decided before the first tick";
  ASSERT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
  ReplicaCounters c = replica->counters();
  EXPECT_GE(c.beats, 1u);
  EXPECT_EQ(c.decisions_lost, 1u) << "the first observer of a server raises the group epoch";
  EXPECT_EQ(c.group_epoch, 1u);
  EXPECT_TRUE(c.ready);

  redis->stop();
  ASSERT_TRUE(turns_until([&] { return !service->ready(); }));
  EXPECT_NE(refusal().find("the change feed is unavailable"), std::string::npos);
  EXPECT_FALSE(replica->counters().ready);

  ASSERT_TRUE(redis->restart());
  ASSERT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
  EXPECT_EQ(replica->counters().group_epoch, 1u) << "an outage of Redis alone raises nothing";
}

TEST_F(ReplicaTest, OwnDisconnectBlocksUntilDecidedAgain) {
  ASSERT_TRUE(turns_until([&] { return service->ready(); }));
  service->on_disconnected();
  replica->on_disconnected();
  service->on_connected(true);
  EXPECT_NE(refusal().find("deciding group continuity"), std::string::npos)
      << "connected again, but its own gap is not judged yet";
  turn();  // the beat after the gap asks for a decision: nobody covers it
  ASSERT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
  EXPECT_EQ(replica->counters().decisions_lost, 2u);
  EXPECT_EQ(replica->counters().group_epoch, 2u);
}

TEST_F(ReplicaTest, APeersPurgeIsAppliedOnTheOwnersThread) {
  ASSERT_TRUE(turns_until([&] { return service->ready(); }));
  engine->set_roster("alice@example.test", {"bob@example.test"});
  ASSERT_TRUE(engine->enable("alice@example.test", "s1", "phone", "e1").ok());
  ASSERT_EQ(engine->stats().sessions, 1u);
  auto writer = feed::FeedWriter::open(target, feed::FeedConfig{"admin", "srv", 0, 0});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->purge_user("alice@example.test").ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(engine->stats().sessions, 1u) << "nothing applied outside the loop";
  ASSERT_TRUE(turns_until([&] { return engine->stats().sessions == 0; }));
  EXPECT_GE(replica->counters().reader.applied, 1u);
}

TEST(ReplicaPrepare, RefusesAnUnreachableRedisAndABadConfig) {
  log::NullLogger logger;
  AppConfig config;
  config.instance_id = "a";
  config.observer_group = "srv";
  store::RedisTarget nowhere;
  nowhere.host = "127.0.0.1";
  nowhere.port = 1;  // nothing listens there
  nowhere.timeout_ms = 500;
  auto r = Replica::prepare(config, nowhere, logger);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(proto::to_stanza_error(r.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  config.instance_id = "";
  r = Replica::prepare(config, nowhere, logger);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message(), "");
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

// The component's wiring on Prosody (main.cpp): presence re-sent on connect (kResync), the
// disconnect's gap left to the Replica.
class ReplicaOwnGapTest : public ReplicaTest {
 protected:
  void adjust(service::ServiceConfig& sc) override {
    sc.on_connect = service::ServiceConfig::OnConnect::kResync;
    sc.gap_on_disconnect = false;
    sc.resync_quiet = 200ms;
  }
  static proto::PresenceFields status(std::string s) {
    proto::PresenceFields f;
    f.status = std::move(s);
    return f;
  }
  // alice's session e1 with carol and erin online, durable, the service ready.
  proto::SyncKey enabled_before_the_gap() {
    EXPECT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
    engine->set_roster(kAlice, {"bob@example.test", "carol@example.test", "erin@example.test"});
    engine->observe_available("carol@example.test/pc", status("c"));
    engine->observe_available("erin@example.test/tab", status("e"));
    EXPECT_TRUE(engine->enable(kAlice, "s1", "phone", "e1").ok());
    EXPECT_TRUE(service->flush());
    base = replica->counters();  // the start was a gap of its own
    return {"s1", "phone", "e1"};
  }
  ReplicaCounters base;
  const std::string kAlice = "alice@example.test";
};

TEST_F(ReplicaOwnGapTest, KeysSurviveAGapAPeerCoveredWithThePeersRowsForWhatWasNotResent) {
  // A peer of the same observer group observes throughout: it beats on every turn.
  feed::GroupContinuity peer(target, "p", "srv", 1500);
  also = [&] { ASSERT_TRUE(peer.beat().ok()); };
  const proto::SyncKey key = enabled_before_the_gap();
  const std::uint64_t epoch = engine->stats().epoch;
  // A beats again after the peer's run began: the peer's run spans A's gap from its start.
  const std::uint64_t beats = replica->counters().beats;
  ASSERT_TRUE(turns_until([&] { return replica->counters().beats > beats; }));

  service->on_disconnected();
  replica->on_disconnected();
  EXPECT_EQ(engine->stats().epoch, epoch) << "the keys are not invalidated at once";
  EXPECT_NE(refusal(), "") << "but nothing is answered from them meanwhile";
  // What the peer saw and committed during the gap: bob came, erin left.
  auto peer_store = std::move(store::RedisStore::open_redis(target, {})).value();
  ASSERT_TRUE(peer_store
                  ->write({core::PutResource{"bob@example.test/phone", status("b")},
                           core::EraseResource{"erin@example.test/tab"}})
                  .ok());
  ASSERT_TRUE(peer_store->flush().ok());
  for (int i = 0; i < 5; ++i) turn();

  service->on_connected(true);
  // The server re-sends carol (changed meanwhile), and nothing of bob: the re-send this
  // instance cannot prove complete, which the peer's rows complete.
  engine->observe_available("carol@example.test/pc", status("c2"));
  ASSERT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
  EXPECT_EQ(replica->counters().own_gaps_bridged, base.own_gaps_bridged + 1);
  EXPECT_EQ(replica->counters().own_gaps_lost, base.own_gaps_lost);
  EXPECT_EQ(engine->stats().epoch, epoch);

  auto d = engine->sync(kAlice, "s2", "phone", "y1", key);
  ASSERT_TRUE(d.ok()) << d.error().text;
  ASSERT_EQ(d->added.size(), 1u);
  EXPECT_EQ(d->added[0].jid, "bob@example.test/phone");
  ASSERT_EQ(d->changed.size(), 1u);
  EXPECT_EQ(d->changed[0].jid, "carol@example.test/pc");
  EXPECT_EQ(d->unavailable, std::vector<std::string>{"erin@example.test/tab"});
}

TEST_F(ReplicaOwnGapTest, KeysDieWithAGapNoPeerCovered) {
  const proto::SyncKey key = enabled_before_the_gap();
  service->on_disconnected();
  replica->on_disconnected();
  service->on_connected(true);
  ASSERT_TRUE(turns_until([&] { return service->ready(); })) << refusal();
  EXPECT_EQ(replica->counters().own_gaps_lost, base.own_gaps_lost + 1);
  EXPECT_EQ(replica->counters().own_gaps_bridged, base.own_gaps_bridged);
  auto d = engine->sync(kAlice, "s2", "phone", "y1", key);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().app, proto::AppCondition::kContinuityLost);
}

}  // namespace
}  // namespace rpsync::app
