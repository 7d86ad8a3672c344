// SPDX-License-Identifier: MIT
// The presence-state digest (spec: "Digest"): the sum modulo 2^256 of SHA-256 over
// the canonical encoding of each available resource. Order independent and
// incremental: add() and remove() are O(1), also for a whole part (a sum of its own).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "presence.h"

namespace rpsync::proto {

using ResourceHash = std::array<std::uint8_t, 32>;

// enc(r) of the spec: tag || u32be length || bytes for each present field.
std::string canonical_encoding(std::string_view full_jid, const PresenceFields& p);
// h(r) = SHA-256(enc(r)).
ResourceHash resource_hash(std::string_view full_jid, const PresenceFields& p);

class StateDigest {
 public:
  void add(const ResourceHash& h);
  void remove(const ResourceHash& h);
  // The digest of the union / difference of two disjoint resource sets: sums and counts
  // add (subtract) modulo 2^256. remove(d) must only take away a part that was added.
  void add(const StateDigest& part);
  void remove(const StateDigest& part);
  std::uint32_t count() const { return count_; }
  const std::array<std::uint64_t, 4>& words() const { return sum_; }
  std::string hex() const;  // 64 lowercase hex digits, big-endian
  // From the wire attributes; nullopt if `hex` is not 64 hex digits.
  static std::optional<StateDigest> from_hex(std::string_view hex, std::uint32_t count);
  // From words() and count() (a store's binary encoding).
  static StateDigest from_words(const std::array<std::uint64_t, 4>& words, std::uint32_t count);
  friend bool operator==(const StateDigest&, const StateDigest&) = default;

 private:
  std::array<std::uint64_t, 4> sum_{};  // sum_[0] most significant
  std::uint32_t count_ = 0;
};

}  // namespace rpsync::proto
