// SPDX-License-Identifier: MIT
#include "plugin/core/slot_pool.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace rpsync::core {
namespace {

TEST(SlotPool, AcquireGivesConsecutiveIdsToAFreshPool) {
  SlotPool<std::string> pool;
  EXPECT_EQ(pool.acquire(), 0u);
  EXPECT_EQ(pool.acquire(), 1u);
  EXPECT_EQ(pool.acquire(), 2u);
  EXPECT_EQ(pool.slots(), 3u);
  EXPECT_EQ(pool.in_use(), 3u);
}

TEST(SlotPool, ReleaseResetsTheSlotAndReusesTheLastReleasedFirst) {
  SlotPool<std::string> pool;
  for (int i = 0; i < 4; ++i) pool[pool.acquire()] = "x" + std::to_string(i);
  pool.release(1);
  pool.release(3);
  EXPECT_EQ(pool[1], "");
  EXPECT_EQ(pool[3], "");
  EXPECT_EQ(pool[2], "x2");
  EXPECT_EQ(pool.in_use(), 2u);
  EXPECT_EQ(pool.slots(), 4u);
  EXPECT_EQ(pool.acquire(), 3u);
  EXPECT_EQ(pool.acquire(), 1u);
  EXPECT_EQ(pool.acquire(), 4u);  // none free: the storage grows
  EXPECT_EQ(pool.slots(), 5u);
  EXPECT_EQ(pool.in_use(), 5u);
}

TEST(SlotPool, DequeStorageKeepsReferencesWhileGrowing) {
  SlotPool<int, std::deque<int>> pool;
  const std::uint32_t first = pool.acquire();
  int& ref = pool[first];
  ref = 42;
  for (int i = 0; i < 10000; ++i) pool[pool.acquire()] = i;
  EXPECT_EQ(&ref, &pool[first]);
  EXPECT_EQ(ref, 42);
  EXPECT_EQ(pool.slots(), 10001u);
}

}  // namespace
}  // namespace rpsync::core
