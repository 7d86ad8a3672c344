// SPDX-License-Identifier: MIT
// Records addressed by a 32-bit id, with released slots reused before the storage grows
// (last released, first reused). The engine's tables (resources, contacts, rosters, caps)
// refer to each other by these ids, which stay valid until released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rpsync::core {

// `Container` is std::vector<T> or std::deque<T> (a deque keeps references to slots valid
// while it grows). A released slot holds T{} until acquired again.
template <class T, class Container = std::vector<T>>
class SlotPool {
 public:
  // The id of a slot holding T{}: the last released one, else a new one at the end.
  std::uint32_t acquire() {
    if (!free_.empty()) {
      const std::uint32_t id = free_.back();
      free_.pop_back();
      return id;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }
  // Resets the slot to T{} and makes `id` available to acquire(). `id` must be in use.
  void release(std::uint32_t id) {
    slots_[id] = T{};
    free_.push_back(id);
  }
  T& operator[](std::uint32_t id) { return slots_[id]; }
  const T& operator[](std::uint32_t id) const { return slots_[id]; }
  // Slots ever created (ids are below it), including released ones.
  std::size_t slots() const { return slots_.size(); }
  // Slots in use.
  std::size_t in_use() const { return slots_.size() - free_.size(); }

 private:
  Container slots_;
  std::vector<std::uint32_t> free_;
};

}  // namespace rpsync::core
