// Replica (plugin/app/replica.h) on a real redis-server: the feed's readiness reaches the
// service as not-ready and back, continuity is decided, a peer's admin entry is applied on
// the owner's thread. Entries are applied through a queue the test drains (the "event
// loop"), as main() does with asio::post.
#include "plugin/app/replica.h"

#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "tests/harness_redis/redis_server.h"
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
    ASSERT_TRUE(replica_or.ok()) << replica_or.error().text;
    replica = std::move(replica_or).value();
    store = std::move(store::RedisStore::open_redis(target, {})).value();
    engine->restore(store->load().value());
    service::ServiceConfig sc;
    sc.component_jid = "rpsync.example.test";
    sc.domains = {"example.test"};
    sc.on_connect = service::ServiceConfig::OnConnect::kKeep;
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
  EXPECT_EQ(r.error().app, proto::AppCondition::kNotReady);
  config.instance_id = "";
  r = Replica::prepare(config, nowhere, logger);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().text, "");
}

}  // namespace
}  // namespace rpsync::app
