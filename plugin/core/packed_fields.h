// SPDX-License-Identifier: MIT
// A resource's presence fields as the engine keeps them: packed into one heap block, with
// entity capabilities interned in a table shared by every record (client software repeats
// the same caps across thousands of resources).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "plugin/core/slot_pool.h"
#include "plugin/core/text_index.h"
#include "protocol/presence.h"

namespace rpsync::core {

// Fields of a resource, packed: the three free-text fields share one string, caps are an
// id in a FieldTable (which holds one reference per Packed).
struct Packed {
  Text text;  // status | photo | idle_since
  std::uint32_t status_len = 0;
  std::uint32_t photo_len = 0;
  std::uint32_t caps = kNone;
  proto::Show show = proto::Show::kNone;
  std::int8_t priority = 0;

  std::string_view status() const { return text.view().substr(0, status_len); }
  std::string_view photo() const { return text.view().substr(status_len, photo_len); }
  std::string_view idle() const { return text.view().substr(std::size_t{status_len} + photo_len); }
  // Same fields (packed by the same table).
  static bool same(const Packed& a, const Packed& b) {
    return a.show == b.show && a.priority == b.priority && a.caps == b.caps &&
           a.status_len == b.status_len && a.photo_len == b.photo_len &&
           a.text.view() == b.text.view();
  }
};

// Packs and unpacks fields; owns the interned caps, each kept while a Packed refers to it.
class FieldTable {
 public:
  // `hint`: a caps id the caller holds; reused (no lookup) when the caps are the same.
  Packed pack(const proto::PresenceFields& f, std::uint32_t hint = kNone);
  proto::PresenceFields unpack(const Packed& p) const;
  bool same(const Packed& p, const proto::PresenceFields& f) const;
  // Drops p's reference to its caps (p keeps its text).
  void release(Packed& p);
  const proto::Caps& caps(std::uint32_t id) const { return caps_[id].caps; }

 private:
  struct CapsEntry {
    proto::Caps caps;
    std::string key;
    std::uint32_t refs = 0;
  };
  std::uint32_t intern(const proto::Caps& c);
  void unref(std::uint32_t id);

  SlotPool<CapsEntry> caps_;
  StrMap<std::uint32_t> index_;
};

}  // namespace rpsync::core
