// SPDX-License-Identifier: MIT
#include "protocol/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "protocol/error.h"

namespace rpsync {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
}

TEST(Status, FactoriesCarryCodeAndMessage) {
  EXPECT_EQ(Status::io_error("disk full").code(), StatusCode::kIoError);
  EXPECT_EQ(Status::corrupt("bad crc").code(), StatusCode::kCorrupt);
  EXPECT_EQ(Status::unavailable("down").code(), StatusCode::kUnavailable);
  EXPECT_EQ(Status::timeout("slow").code(), StatusCode::kTimeout);
  EXPECT_EQ(Status::invalid_argument("x").code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Status::io_error("disk full").ok());
  EXPECT_EQ(Status::io_error("disk full").message(), "disk full");
}

TEST(StatusOr, HoldsValueOrStatus) {
  StatusOr<std::string> v(std::string("abc"));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "abc");
  EXPECT_EQ(v->size(), 3u);
  EXPECT_TRUE(v.status().ok());
  StatusOr<std::string> e(Status::timeout("redis"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status(), Status::timeout("redis"));
}

TEST(StatusOr, MovesOutMoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> v(std::make_unique<int>(7));
  std::unique_ptr<int> p = std::move(v).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(Status, BecomesNotReadyOnlyWhereAStanzaIsAnswered) {
  proto::StanzaError e = proto::to_stanza_error(Status::io_error("store: disk full"));
  EXPECT_EQ(e.app, proto::AppCondition::kNotReady);
  EXPECT_EQ(e.type, proto::ErrorType::kWait);
  EXPECT_EQ(e.text, "store: disk full");
}

}  // namespace
}  // namespace rpsync
