// SPDX-License-Identifier: MIT
// The end of a re-learn in slices (ServiceConfig::resync_slice, resync_end.cpp): requests
// get not-ready until the last slice, presence between slices is ingested and confirms
// what it names, slices follow each other through the posted function (or one per tick
// without it), and a disconnect cancels the rest.
#include <deque>
#include <functional>

#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service::test {
namespace {

class ResyncSlices : public ServiceTest {
 protected:
  ResyncSlices() : ServiceTest(sliced_config()) {}
  static ServiceConfig sliced_config() {
    ServiceConfig c = configured();
    c.on_connect = ServiceConfig::OnConnect::kResync;
    c.resync_quiet = std::chrono::milliseconds(2000);
    c.resync_slice = 2;
    return c;
  }

  // bob has five resources (ids in this order); then a reconnect whose re-send names r0 only.
  void SetUp() override {
    for (int i = 0; i < 5; ++i) presence("bob@example.test/r" + std::to_string(i));
    settle();
    ASSERT_FALSE(service->resyncing());
    ASSERT_EQ(engine->stats().available, 5u);
    service->on_disconnected();
    service->on_connected(true);
    ASSERT_TRUE(service->resyncing());
    presence("bob@example.test/r0");
  }
  void settle() {
    now_ms += 2500;
    service->tick();
  }
  bool answers_not_ready() {
    iq("alice@example.test/phone", "d" + std::to_string(++ids_),
       "<disable xmlns='urn:xmpp:rpsync:0' stream='x'/>");
    if (transport.sent.empty()) return false;
    const proto::StanzaError e = error_of(transport.take());
    return e.app == proto::AppCondition::kNotReady &&
           e.text.find("re-learning presence") != std::string::npos;
  }
  std::size_t available() const { return engine->stats().available; }
  int ids_ = 0;
};

TEST_F(ResyncSlices, OneSlicePerTickWithoutPostAndPresenceBetweenConfirms) {
  settle();  // the first slice: r1, r2 offline
  EXPECT_EQ(available(), 3u);
  EXPECT_TRUE(service->resyncing()) << "r3 and r4 are still queued";
  EXPECT_FALSE(service->ready());
  EXPECT_TRUE(answers_not_ready());
  presence("bob@example.test/r4");  // arrives between two slices
  now_ms += 250;
  service->tick();  // r3 offline, r4 confirmed: done
  EXPECT_FALSE(service->resyncing());
  EXPECT_EQ(available(), 2u) << "r0 (re-sent) and r4 (between slices)";
  EXPECT_FALSE(answers_not_ready());
}

TEST_F(ResyncSlices, PostedSlicesFollowEachOtherAndTheLastEndsIt) {
  std::deque<std::function<void()>> loop;
  service->set_post([&loop](std::function<void()> f) { loop.push_back(std::move(f)); });
  settle();
  EXPECT_EQ(available(), 3u);
  ASSERT_EQ(loop.size(), 1u) << "the next slice is posted, not left to the tick";
  EXPECT_TRUE(service->resyncing());
  now_ms += 250;
  service->tick();  // a tick runs no slice of its own while one is posted
  EXPECT_EQ(available(), 3u);
  auto next = std::move(loop.front());
  loop.pop_front();
  next();
  EXPECT_EQ(available(), 1u);
  EXPECT_FALSE(service->resyncing());
  EXPECT_TRUE(loop.empty());
}

TEST_F(ResyncSlices, ADisconnectCancelsTheRemainingSlices) {
  std::deque<std::function<void()>> loop;
  service->set_post([&loop](std::function<void()> f) { loop.push_back(std::move(f)); });
  settle();
  ASSERT_EQ(available(), 3u);
  ASSERT_EQ(loop.size(), 1u);
  service->on_disconnected();
  EXPECT_FALSE(service->resyncing());
  // The next connect re-learns from the start (nobody re-sends) and settles before the
  // slice posted for the cancelled re-learn runs: that one must do nothing.
  service->on_connected(true);
  ASSERT_TRUE(service->resyncing());
  settle();  // the new re-learn's first slice: two of r0, r3, r4 offline
  EXPECT_EQ(available(), 1u);
  ASSERT_EQ(loop.size(), 2u);
  auto stale = std::move(loop.front());
  loop.pop_front();
  stale();
  EXPECT_EQ(available(), 1u) << "a slice of the cancelled re-learn ran";
  EXPECT_EQ(loop.size(), 1u);
  while (!loop.empty()) {
    auto f = std::move(loop.front());
    loop.pop_front();
    f();
  }
  EXPECT_FALSE(service->resyncing());
  EXPECT_EQ(available(), 0u);
}

TEST_F(ResyncSlices, ADisconnectBeforeThePostedSliceLeavesPresenceAsHeld) {
  std::deque<std::function<void()>> loop;
  service->set_post([&loop](std::function<void()> f) { loop.push_back(std::move(f)); });
  settle();
  ASSERT_EQ(available(), 3u);
  service->on_disconnected();
  for (auto& f : loop) f();
  EXPECT_EQ(available(), 3u);
  EXPECT_FALSE(service->resyncing());
}

}  // namespace
}  // namespace rpsync::service::test
