// SPDX-License-Identifier: MIT
// The service's behaviour for several instances sharing one store: resync on
// reconnect instead of clearing presence, the app's not-ready reason (the change feed),
// and a store that is down answered before the engine changes.
#include <algorithm>

#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service::test {
namespace {

// A store that records what it is given and can be switched off (Redis down).
class SwitchableStore final : public store::Store {
 public:
  StatusOr<core::Image> load() override { return core::Image{}; }
  store::Done write(const core::Batch& batch) override {
    if (down && !buffers) return Status::unavailable("down");
    written.insert(written.end(), batch.begin(), batch.end());
    return Status{};
  }
  store::Done flush() override {
    if (down) return Status::unavailable("down");
    ++flushes;
    return Status{};
  }
  template <class M>
  std::size_t count() const {
    return static_cast<std::size_t>(
        std::count_if(written.begin(), written.end(),
                      [](const auto& m) { return std::holds_alternative<M>(m); }));
  }
  bool down = false;
  bool buffers = false;  // write() succeeds while down (Redis buffers until MULTI/EXEC)
  core::Batch written;
  int flushes = 0;
};

class SharedStore : public ::testing::Test {
 protected:
  SharedStore() {
    core::EngineOptions options;
    options.clock = [this] { return now_ms; };
    engine = std::make_unique<core::Engine>(options);
    ServiceConfig config;
    config.component_jid = "rpsync.example.test";
    config.domains = {"example.test"};
    config.on_connect = ServiceConfig::OnConnect::kResync;
    config.resync_quiet = std::chrono::milliseconds(2000);
    service = std::make_unique<Service>(config, *engine, store, transport, logger,
                                        [this] { return now_ms; });
  }
  void presence(std::string from, std::string type = "") {
    service->on_stanza(stanza("<presence from='" + from + "' to='rpsync.example.test'" +
                              (type.empty() ? "" : " type='" + type + "'") + "/>"));
  }
  void iq(std::string id, std::string payload) {
    service->on_stanza(stanza("<iq type='set' id='" + id +
                              "' from='alice@example.test/phone' to='rpsync.example.test'>" +
                              payload + "</iq>"));
  }
  std::string not_ready_text() {
    if (transport.sent.empty()) return "no answer";
    auto reply = transport.take();
    const xml::Element* e = reply.child("error");
    if (!e) return "not an error: " + xml::to_string(reply);
    auto err = proto::parse_stanza_error(*e).value_or(proto::StanzaError{});
    if (err.app != AppCondition::kNotReady) return "not not-ready: " + xml::to_string(reply);
    return err.text;
  }
  // Connects, lets the resync settle, enables alice (bob and carol visible).
  void connected_and_enabled() {
    service->on_connected(true);
    now_ms += 2500;
    service->tick();
    ASSERT_FALSE(service->resyncing());
    iq("e1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
    transport.answer_roster(roster);
    auto reply = transport.take();
    ASSERT_EQ(reply.attr("type"), "result") << xml::to_string(reply);
  }

  std::int64_t now_ms = 1'000'000;
  log::NullLogger logger;
  FakeTransport transport;
  SwitchableStore store;
  std::unique_ptr<core::Engine> engine;
  std::unique_ptr<Service> service;
  const std::vector<std::pair<std::string, std::string>> roster{{"bob@example.test", "both"},
                                                                {"carol@example.test", "both"}};
};

TEST_F(SharedStore, ReconnectRelearnsPresenceAndStoresOnlyRealChanges) {
  service->on_connected(true);
  presence("bob@example.test/pc");
  presence("carol@example.test/tab");
  now_ms += 2500;
  service->tick();
  ASSERT_FALSE(service->resyncing());
  service->flush();
  store.written.clear();

  service->on_disconnected();
  service->on_connected(true);
  ASSERT_TRUE(service->resyncing());
  iq("r1", "<disable xmlns='urn:xmpp:rpsync:0' stream='x'/>");
  EXPECT_NE(not_ready_text().find("re-learning presence"), std::string::npos);
  // The server re-sends bob only (carol left while we were away); presence keeps the
  // resync open until it has been quiet for resync_quiet.
  now_ms += 1500;
  presence("bob@example.test/pc");
  now_ms += 1500;
  service->tick();
  EXPECT_TRUE(service->resyncing()) << "1.5 s since the last presence";
  now_ms += 600;
  service->tick();
  EXPECT_FALSE(service->resyncing());
  service->flush();
  EXPECT_EQ(store.count<core::EraseResource>(), 1u) << "only carol, not an erase of everyone";
  EXPECT_EQ(store.count<core::PutResource>(), 0u) << "bob did not change";
  EXPECT_EQ(engine->stats().available, 1u);
}

TEST_F(SharedStore, ResyncEndsAfterResyncMaxEvenUnderSteadyPresence) {
  service->on_connected(true);
  for (int i = 0; i < 40; ++i) {
    now_ms += 1000;
    presence("bob@example.test/pc" + std::to_string(i % 3));
    service->tick();
  }
  EXPECT_FALSE(service->resyncing()) << "bounded by resync_max (30 s)";
}

TEST_F(SharedStore, TheAppsReasonIsAnsweredAsNotReadyUntilCleared) {
  service->on_connected(true);
  now_ms += 2500;
  service->tick();
  service->set_blocked("the change feed is unavailable: redis down");
  EXPECT_FALSE(service->ready());
  iq("b1", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  EXPECT_EQ(not_ready_text(), "the change feed is unavailable: redis down");
  EXPECT_TRUE(transport.requests.empty()) << "refused before any roster fetch";
  service->set_blocked("");
  EXPECT_TRUE(service->ready());
  iq("b2", "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  transport.answer_roster(roster);
  EXPECT_EQ(transport.take().attr("type"), "result");
}

TEST_F(SharedStore, AStoreThatIsDownLeavesTheKeyUntouchedAndRecoversOnTheTick) {
  presence("bob@example.test/pc");
  connected_and_enabled();
  store.down = true;
  // The sync finds the store down before it would retire the key.
  service->on_stanza(
      stanza("<iq type='set' id='s1' from='alice@example.test/laptop' to='rpsync.example.test'>"
             "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
             "last='e1'/></sync></iq>"));
  transport.answer_roster(roster);
  EXPECT_NE(not_ready_text().find("store"), std::string::npos);
  EXPECT_FALSE(service->ready());
  // Back: the next tick finds out without any presence arriving, and the key still syncs.
  store.down = false;
  now_ms += 1100;
  service->tick();
  EXPECT_TRUE(service->ready());
  service->on_stanza(
      stanza("<iq type='set' id='s2' from='alice@example.test/laptop' to='rpsync.example.test'>"
             "<sync xmlns='urn:xmpp:rpsync:0' stream='s2'><key stream='s1' resource='phone' "
             "last='e1'/></sync></iq>"));
  transport.answer_roster(roster);
  auto reply = transport.take();
  EXPECT_EQ(reply.attr("type"), "result") << xml::to_string(reply);
}

// A store whose writes are only buffered (Redis) says nothing by accepting them: while
// presence keeps arriving on every tick, the failed store is probed with a flush, and
// requests are answered again as soon as it is back.
TEST_F(SharedStore, AStoreBackWhilePresenceKeepsComingIsFoundOnTheTick) {
  presence("bob@example.test/pc");
  connected_and_enabled();
  store.down = true;
  store.buffers = true;
  presence("dave@example.test/a");
  service->tick();  // written (only buffered)
  EXPECT_TRUE(service->ready());
  now_ms += 250;
  service->tick();  // the quiet tick's flush fails
  EXPECT_FALSE(service->ready());
  presence("dave@example.test/b");
  now_ms += 250;
  service->tick();
  EXPECT_FALSE(service->ready()) << "a buffered write does not make the store healthy";
  store.down = false;
  for (int i = 0; i < 8 && !service->ready(); ++i) {
    presence("dave@example.test/r" + std::to_string(i));  // something new on every tick
    now_ms += 250;
    service->tick();
  }
  EXPECT_TRUE(service->ready()) << "found back within two seconds of ticks with presence";
}

// An instance that observes one change and then nothing: the change is written on the
// next tick and flushed on the one after (a store may buffer a write until its next
// write or flush; peers re-learning presence read the flushed rows).
TEST_F(SharedStore, AnIdleInstancesLastChangeIsFlushedOnTheNextQuietTick) {
  connected_and_enabled();
  service->tick();  // flushes whatever the resync and the enable left unflushed
  const int flushes = store.flushes;
  const std::size_t puts = store.count<core::PutResource>();
  presence("dave@example.test/pc");
  service->tick();
  EXPECT_EQ(store.count<core::PutResource>(), puts + 1) << "written on the tick";
  EXPECT_EQ(store.flushes, flushes) << "not flushed while changes may still follow";
  service->tick();
  EXPECT_EQ(store.flushes, flushes + 1) << "flushed on the first tick without new changes";
  service->tick();
  EXPECT_EQ(store.flushes, flushes + 1) << "and only once";
}

}  // namespace
}  // namespace rpsync::service::test
