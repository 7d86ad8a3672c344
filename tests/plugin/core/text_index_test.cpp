// SPDX-License-Identifier: MIT
#include "plugin/core/text_index.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rpsync::core {
namespace {

TEST(Text, HoldsTheConcatenationOfItsParts) {
  EXPECT_EQ(Text("status", "photo", "idle").view(), "statusphotoidle");
  EXPECT_EQ(Text("a@b/c").size(), 5u);
  EXPECT_EQ(Text().view(), "");
  EXPECT_EQ(Text("", "", "").size(), 0u);
}

// Keys owned by the test, as the engine's tables own theirs.
struct Keys {
  std::vector<std::string> names;
  std::string_view operator()(std::uint32_t id) const { return names[id]; }
};

TEST(FlatIndex, FindsInsertedIdsAndForgetsErasedOnes) {
  Keys keys;
  FlatIndex index;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    keys.names.push_back("user" + std::to_string(i) + "@example.test");
    index.insert(keys.names.back(), i);
  }
  EXPECT_EQ(index.size(), 1000u);
  for (std::uint32_t i = 0; i < 1000; i += 2) index.erase(keys.names[i], keys);
  EXPECT_EQ(index.size(), 500u);
  for (std::uint32_t i = 0; i < 1000; ++i)
    EXPECT_EQ(index.find(keys.names[i], keys), i % 2 ? i : kNone) << keys.names[i];
  EXPECT_EQ(index.find("absent@example.test", keys), kNone);
}

TEST(FlatIndex, EmptyIndexFindsNothing) {
  Keys keys;
  FlatIndex index;
  EXPECT_EQ(index.find("x", keys), kNone);
  EXPECT_EQ(index.size(), 0u);
}

}  // namespace
}  // namespace rpsync::core
