// SPDX-License-Identifier: MIT
// Compact text and string-keyed lookup for the engine's tables: `Text`, a heap string
// without spare capacity, and `FlatIndex`, ids found by a string their owner stores (the
// index itself keeps 8 bytes per entry: a hash tag and the id). Plus `StrMap`, a hash map
// keyed by std::string that is searched with a string_view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rpsync::core {

// "No id": an empty link, slot or reference in the engine's tables.
inline constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

struct StrHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <class V>
using StrMap = std::unordered_map<std::string, V, StrHash, std::equal_to<>>;

// A heap string without capacity: 16 bytes instead of std::string's 32 (+ no spare room).
class Text {
 public:
  Text() = default;
  // The concatenation a + b + c.
  explicit Text(std::string_view a, std::string_view b = {}, std::string_view c = {});
  std::string_view view() const { return {p_.get(), n_}; }
  std::size_t size() const { return n_; }

 private:
  std::unique_ptr<char[]> p_;
  std::uint32_t n_ = 0;
};

// Ids keyed by a string the owner stores (open addressing, linear probing,
// backward-shift deletion): 8 bytes per slot instead of a node per entry. `key_of(id)`
// gives the owner's string for an id.
class FlatIndex {
 public:
  template <class KeyOf>
  std::uint32_t find(std::string_view key, const KeyOf& key_of) const {
    if (slots_.empty()) return kNone;
    const std::uint32_t h = hash(key);
    for (std::size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.id == kNone) return kNone;
      if (s.tag == h && key_of(s.id) == key) return s.id;
    }
  }
  // `key` must not be present.
  void insert(std::string_view key, std::uint32_t id);
  // `key` must be present.
  template <class KeyOf>
  void erase(std::string_view key, const KeyOf& key_of) {
    const std::uint32_t h = hash(key);
    std::size_t i = h & mask();
    while (!(slots_[i].tag == h && key_of(slots_[i].id) == key)) i = (i + 1) & mask();
    remove_at(i);
  }
  std::size_t size() const { return size_; }

 private:
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t id = kNone;
  };
  static std::uint32_t hash(std::string_view k) {
    return static_cast<std::uint32_t>(std::hash<std::string_view>{}(k));
  }
  std::size_t mask() const { return slots_.size() - 1; }
  void place(Slot s);
  void remove_at(std::size_t i);
  void grow();
  std::vector<Slot> slots_;  // size is a power of two
  std::size_t size_ = 0;
};

}  // namespace rpsync::core
