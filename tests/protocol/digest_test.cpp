// SPDX-License-Identifier: MIT
#include "protocol/digest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace rpsync::proto {
namespace {

TEST(Digest, CanonicalEncodingIsTagLengthValue) {
  PresenceFields p;
  p.show = Show::kAway;
  std::string enc = canonical_encoding("a@b/c", p);
  std::string want;
  want += '\x01';
  want += std::string("\0\0\0\x05", 4) + "a@b/c";
  want += '\x02';
  want += std::string("\0\0\0\x04", 4) + "away";
  want += '\x04';
  want += std::string("\0\0\0\x01", 4) + "0";
  EXPECT_EQ(enc, want);
  p.priority = -12;
  EXPECT_NE(canonical_encoding("a@b/c", p).find(std::string("\x04\0\0\0\x03-12", 8)),
            std::string::npos);
}

TEST(Digest, KnownSha256OfEncoding) {
  // Computed independently of this code:
  //   printf '\x01\x00\x00\x00\x05a@b/c\x04\x00\x00\x00\x010' | sha256sum
  StateDigest d;
  d.add(resource_hash("a@b/c", PresenceFields{}));
  EXPECT_EQ(d.hex(), "7415d1eca65cf51767870cb01df695dcf2151e0863e6936713a9b84ea6711100");
  EXPECT_EQ(d.count(), 1u);
}

TEST(Digest, EmptyStateIsZero) {
  StateDigest d;
  EXPECT_EQ(d.hex(), std::string(64, '0'));
  EXPECT_EQ(d.count(), 0u);
}

TEST(Digest, OrderIndependentAndRemoveUndoesAdd) {
  std::mt19937 rng(7);
  std::vector<ResourceHash> hs;
  for (int i = 0; i < 200; ++i) {
    PresenceFields p;
    p.priority = static_cast<std::int8_t>(i % 50);
    hs.push_back(resource_hash("u" + std::to_string(i) + "@h/r", p));
  }
  StateDigest a, b;
  for (const auto& h : hs) a.add(h);
  std::shuffle(hs.begin(), hs.end(), rng);
  for (const auto& h : hs) b.add(h);
  EXPECT_EQ(a, b);
  for (std::size_t i = 0; i < 100; ++i) b.remove(hs[i]);
  StateDigest c;
  for (std::size_t i = 100; i < hs.size(); ++i) c.add(hs[i]);
  EXPECT_EQ(b, c);
}

TEST(Digest, CarriesAcrossWordsAndWrapsModulo2To256) {
  ResourceHash all_ones;
  all_ones.fill(0xff);
  ResourceHash one{};
  one[31] = 1;
  StateDigest d;
  d.add(all_ones);
  d.add(one);  // 2^256 - 1 + 1 == 0 mod 2^256
  EXPECT_EQ(d.hex(), std::string(64, '0'));
  EXPECT_EQ(d.count(), 2u);
  d.remove(one);
  EXPECT_EQ(d.hex(), std::string(64, 'f'));
  ResourceHash low_ones{};
  std::fill(low_ones.begin() + 24, low_ones.end(), 0xff);
  StateDigest e;
  e.add(low_ones);
  e.add(one);
  EXPECT_EQ(e.hex(), std::string(47, '0') + "1" + std::string(16, '0'));
}

TEST(Digest, AddingAPartEqualsAddingItsResources) {
  std::vector<ResourceHash> hs;
  for (int i = 0; i < 60; ++i) {
    PresenceFields p;
    p.status = "s" + std::to_string(i);
    hs.push_back(resource_hash("c" + std::to_string(i % 7) + "@h/r" + std::to_string(i), p));
  }
  StateDigest whole, first, second;
  for (std::size_t i = 0; i < hs.size(); ++i) {
    whole.add(hs[i]);
    (i < 25 ? first : second).add(hs[i]);
  }
  StateDigest joined;
  joined.add(first);
  joined.add(second);
  EXPECT_EQ(joined, whole);
  EXPECT_EQ(joined.count(), 60u);
  joined.remove(first);
  EXPECT_EQ(joined, second);
  EXPECT_EQ(joined.count(), 35u);
  joined.remove(second);
  EXPECT_EQ(joined, StateDigest{});
}

TEST(Digest, AddingAPartCarriesAndWrapsModulo2To256) {
  ResourceHash all_ones;
  all_ones.fill(0xff);
  ResourceHash one{};
  one[31] = 1;
  StateDigest max, unit;
  max.add(all_ones);
  unit.add(one);
  StateDigest d = max;
  d.add(unit);  // 2^256 - 1 + 1 == 0 mod 2^256, with a carry through every word
  EXPECT_EQ(d.hex(), std::string(64, '0'));
  EXPECT_EQ(d.count(), 2u);
  d.remove(max);  // 0 - (2^256 - 1) == 1 mod 2^256
  EXPECT_EQ(d, unit);
  StateDigest e = unit;
  e.remove(max);  // 1 - (2^256 - 1) == 2 mod 2^256, with a borrow through every word
  EXPECT_EQ(e.hex(), std::string(63, '0') + "2");
  EXPECT_EQ(e.count(), 0u);
}

TEST(Digest, HexRoundTripAndRejection) {
  StateDigest d;
  d.add(resource_hash("x@y/z", PresenceFields{}));
  auto back = StateDigest::from_hex(d.hex(), 1);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);
  EXPECT_FALSE(StateDigest::from_hex("abc", 0));
  EXPECT_FALSE(StateDigest::from_hex(std::string(63, '0') + "g", 0));
  std::string upper = d.hex();
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  if (upper != d.hex()) {
    EXPECT_FALSE(StateDigest::from_hex(upper, 1)) << "lowercase only";
  }
}

}  // namespace
}  // namespace rpsync::proto
