// SPDX-License-Identifier: MIT
#include "plugin/core/text_index.h"

#include <cstring>
#include <utility>

namespace rpsync::core {

Text::Text(std::string_view a, std::string_view b, std::string_view c)
    : n_(static_cast<std::uint32_t>(a.size() + b.size() + c.size())) {
  if (n_ == 0) return;
  p_ = std::make_unique<char[]>(n_);
  char* out = p_.get();
  for (std::string_view part : {a, b, c}) {
    if (!part.empty()) std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
}

void FlatIndex::insert(std::string_view key, std::uint32_t id) {
  if ((size_ + 1) * 10 > slots_.size() * 7) grow();
  place(Slot{hash(key), id});
  ++size_;
}

// Backward-shift deletion: entries after slot i that probed past it move back.
void FlatIndex::remove_at(std::size_t i) {
  for (std::size_t j = i;;) {
    j = (j + 1) & mask();
    if (slots_[j].id == kNone) break;
    const std::size_t home = slots_[j].tag & mask();
    if (((j - home) & mask()) >= ((j - i) & mask())) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
  --size_;
}

void FlatIndex::place(Slot s) {
  std::size_t i = s.tag & mask();
  while (slots_[i].id != kNone) i = (i + 1) & mask();
  slots_[i] = s;
}

void FlatIndex::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
  for (const Slot& s : old)
    if (s.id != kNone) place(s);
}

}  // namespace rpsync::core
