// SPDX-License-Identifier: MIT
#include "plugin/service/pending_writes.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace rpsync::service {
namespace {

core::PutSession session(std::string last) {
  core::SessionRecord r;
  r.user = "alice@example.test";
  r.stream = "s1";
  r.resource = "phone";
  r.newest.id = std::move(last);
  return {r};
}

TEST(PendingWrites, KeepsTheNewestMutationPerRowInOrder) {
  PendingWrites p;
  p.add({core::PutResource{"bob@example.test/a", {}}, session("e1"), core::PutEpoch{2}});
  p.add({core::EraseResource{"bob@example.test/a"}, session("c1")});
  p.add({core::EraseSession{"alice@example.test", "s1", "phone"}});
  const core::Batch all = p.all();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(p.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<core::PutEpoch>(all[0]));
  EXPECT_TRUE(std::holds_alternative<core::EraseResource>(all[1]));
  EXPECT_TRUE(std::holds_alternative<core::EraseSession>(all[2]));
  p.clear();
  EXPECT_TRUE(p.all().empty());
}

TEST(PendingWrites, MemoryIsBoundedByRowsNotChanges) {
  PendingWrites p;
  for (int i = 0; i < 100000; ++i)
    p.add({core::PutResource{"bob@example.test/" + std::to_string(i % 10), {}}});
  EXPECT_EQ(p.size(), 10u);
  EXPECT_EQ(p.all().size(), 10u);
}

}  // namespace
}  // namespace rpsync::service
