// SPDX-License-Identifier: MIT
// Every bound the spec puts on a request is checked on every request, and the component
// bounds the requests in flight across all users (spec "Business Rules": Limits, Bounds).
#include <gtest/gtest.h>

#include "tests/plugin/service/service_fixture.h"

namespace rpsync::service::test {
namespace {

class RequestBounds : public ServiceTest {
 protected:
  explicit RequestBounds(std::size_t max_in_flight = 3) : ServiceTest(bounded(max_in_flight)) {}
  static ServiceConfig bounded(std::size_t max_in_flight) {
    ServiceConfig config = configured();
    config.requests_per_minute = 1000;
    config.max_in_flight = max_in_flight;
    return config;
  }
  void enable(const std::string& from, const std::string& id) {
    iq(from, id, "<enable xmlns='urn:xmpp:rpsync:0' stream='s1'/>");
  }
};

TEST_F(RequestBounds, IqIdLongerThanTheLimitIsRefused) {
  enable("alice@example.test/phone", std::string(257, 'i'));
  auto e = error_of(transport.take());
  EXPECT_EQ(e.condition, Condition::kBadRequest);
  EXPECT_EQ(e.type, proto::ErrorType::kModify);
  EXPECT_TRUE(transport.requests.empty()) << "a refused request fetches no roster";
  enable("alice@example.test/phone", std::string(256, 'i'));  // at the limit: accepted
  EXPECT_TRUE(transport.sent.empty());
  EXPECT_EQ(transport.requests.size(), 1u);
}

TEST_F(RequestBounds, EmptyIqIdIsRefused) {
  service->on_stanza(
      stanza("<iq type='set' from='alice@example.test/phone' "
             "to='rpsync.example.test'><enable xmlns='urn:xmpp:rpsync:0' "
             "stream='s1'/></iq>"));
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kBadRequest);
  EXPECT_TRUE(transport.requests.empty());
}

TEST_F(RequestBounds, ResourceLongerThanTheLimitIsRefused) {
  enable("alice@example.test/" + std::string(1024, 'r'), "e1");
  EXPECT_EQ(error_of(transport.take()).condition, Condition::kBadRequest);
  EXPECT_TRUE(transport.requests.empty());
  enable("alice@example.test/" + std::string(1023, 'r'), "e2");
  EXPECT_EQ(transport.requests.size(), 1u);
}

TEST_F(RequestBounds, RequestsInFlightAreBoundedAcrossUsers) {
  for (const char* user : {"u1", "u2", "u3"})
    enable(std::string(user) + "@example.test/phone", "e1");
  ASSERT_EQ(transport.requests.size(), 3u);  // each waits for its roster
  EXPECT_TRUE(transport.sent.empty());
  enable("u4@example.test/phone", "e1");
  auto busy = error_of(transport.take());
  EXPECT_EQ(busy.app, AppCondition::kBusy);
  EXPECT_EQ(busy.condition, Condition::kResourceConstraint);
  EXPECT_EQ(busy.type, proto::ErrorType::kWait);
  EXPECT_EQ(transport.requests.size(), 3u) << "a busy request is not queued";
  EXPECT_EQ(service->counters().busy, 1u);
  transport.answer_roster({});  // u1's request completes: a slot is free again
  EXPECT_EQ(transport.take().attr("type"), "result");
  enable("u4@example.test/phone", "e2");
  EXPECT_TRUE(transport.sent.empty());
  EXPECT_EQ(transport.requests.size(), 3u);
}

TEST_F(RequestBounds, ADisconnectEmptiesTheCount) {
  for (const char* user : {"u1", "u2", "u3"})
    enable(std::string(user) + "@example.test/phone", "e1");
  service->on_disconnected();
  service->on_connected(true);
  transport.requests.clear();
  enable("u4@example.test/phone", "e1");
  EXPECT_TRUE(transport.sent.empty()) << xml::to_string(transport.sent.front());
  EXPECT_EQ(transport.requests.size(), 1u);
}

}  // namespace
}  // namespace rpsync::service::test
