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
  p.add({core::PutRoster{"alice@example.test", {"bob@example.test"}}, session("e1"),
         core::PutEpoch{2}});
  p.add({core::PutRoster{"alice@example.test", {}}, session("c1")});
  p.add({core::EraseSession{"alice@example.test", "s1", "phone"}});
  const core::Batch all = p.all();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(p.size(), 3u);
  EXPECT_TRUE(std::holds_alternative<core::PutEpoch>(all[0]));
  ASSERT_TRUE(std::holds_alternative<core::PutRoster>(all[1]));
  EXPECT_TRUE(std::get<core::PutRoster>(all[1]).contacts.empty());
  EXPECT_TRUE(std::holds_alternative<core::EraseSession>(all[2]));
  p.clear();
  EXPECT_TRUE(p.all().empty());
}

TEST(PendingWrites, ContactPresenceIsNotKept) {
  PendingWrites p;
  p.add({core::PutResource{"bob@example.test/a", {}}, core::EraseResource{"bob@example.test/b"},
         session("e1")});
  ASSERT_EQ(p.all().size(), 1u);
  EXPECT_TRUE(std::holds_alternative<core::PutSession>(p.all()[0]));
}

TEST(PendingWrites, MemoryIsBoundedByRowsNotChanges) {
  PendingWrites p;
  for (int i = 0; i < 100000; ++i) p.add({session("k" + std::to_string(i)), core::PutEpoch{1}});
  EXPECT_EQ(p.size(), 2u);
  ASSERT_EQ(p.all().size(), 2u);
  EXPECT_EQ(std::get<core::PutSession>(p.all()[0]).session.newest.id, "k99999");
}

}  // namespace
}  // namespace rpsync::service
