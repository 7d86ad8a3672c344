// SPDX-License-Identifier: MIT
#include "plugin/core/packed_fields.h"

#include <gtest/gtest.h>

namespace rpsync::core {
namespace {

proto::PresenceFields sample() {
  proto::PresenceFields f;
  f.show = proto::Show::kAway;
  f.status = "lunch";
  f.priority = -3;
  f.caps = proto::Caps{"sha-1", "https://client.example", "abc="};
  f.photo = "0123abcd";
  f.idle_since = "2026-01-01T00:00:00Z";
  return f;
}

TEST(FieldTable, UnpackGivesBackWhatWasPacked) {
  FieldTable table;
  const proto::PresenceFields f = sample();
  Packed p = table.pack(f);
  EXPECT_EQ(table.unpack(p), f);
  EXPECT_TRUE(table.same(p, f));
  proto::PresenceFields other = f;
  other.photo.clear();
  EXPECT_FALSE(table.same(p, other));
  other = f;
  other.caps->ver = "def=";
  EXPECT_FALSE(table.same(p, other));
  table.release(p);
}

TEST(FieldTable, EqualCapsShareOneIdUntilTheLastReleaseFreesIt) {
  FieldTable table;
  Packed a = table.pack(sample());
  Packed b = table.pack(sample());
  EXPECT_EQ(a.caps, b.caps);
  EXPECT_TRUE(Packed::same(a, b));
  const std::uint32_t id = a.caps;
  table.release(a);
  EXPECT_EQ(table.caps(id).ver, "abc=");  // still held by b
  proto::PresenceFields other = sample();
  other.caps->node = "https://other.example";
  Packed c = table.pack(other);
  EXPECT_NE(c.caps, id);
  table.release(b);                                // id is free now, and reused first
  Packed d = table.pack(proto::PresenceFields{});  // no caps: no id
  EXPECT_EQ(d.caps, kNone);
  other.caps->node = "https://third.example";
  Packed e = table.pack(other);
  EXPECT_EQ(e.caps, id);
  EXPECT_EQ(table.caps(id).node, "https://third.example");
}

}  // namespace
}  // namespace rpsync::core
