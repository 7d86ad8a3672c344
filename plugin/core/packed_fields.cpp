// SPDX-License-Identifier: MIT
#include "plugin/core/packed_fields.h"

#include <utility>

namespace rpsync::core {
namespace {

std::string caps_key(const proto::Caps& c) {
  std::string k;
  k.reserve(c.hash.size() + c.node.size() + c.ver.size() + 2);
  k.append(c.hash).push_back('\0');
  k.append(c.node).push_back('\0');
  k.append(c.ver);
  return k;
}

}  // namespace

Packed FieldTable::pack(const proto::PresenceFields& f, std::uint32_t hint) {
  Packed p;
  p.text = Text(f.status, f.photo, f.idle_since);
  p.status_len = static_cast<std::uint32_t>(f.status.size());
  p.photo_len = static_cast<std::uint32_t>(f.photo.size());
  if (f.caps && hint != kNone && caps_[hint].caps == *f.caps) {
    p.caps = hint;
    ++caps_[hint].refs;
  } else {
    p.caps = f.caps ? intern(*f.caps) : kNone;
  }
  p.show = f.show;
  p.priority = f.priority;
  return p;
}

proto::PresenceFields FieldTable::unpack(const Packed& p) const {
  proto::PresenceFields f;
  f.show = p.show;
  f.status = std::string(p.status());
  f.priority = p.priority;
  if (p.caps != kNone) f.caps = caps_[p.caps].caps;
  f.photo = std::string(p.photo());
  f.idle_since = std::string(p.idle());
  return f;
}

bool FieldTable::same(const Packed& p, const proto::PresenceFields& f) const {
  if (p.show != f.show || p.priority != f.priority || p.status() != f.status ||
      p.photo() != f.photo || p.idle() != f.idle_since)
    return false;
  if (p.caps == kNone) return !f.caps.has_value();
  return f.caps.has_value() && caps_[p.caps].caps == *f.caps;
}

void FieldTable::release(Packed& p) {
  unref(p.caps);
  p.caps = kNone;
}

std::uint32_t FieldTable::intern(const proto::Caps& c) {
  std::string k = caps_key(c);
  if (auto it = index_.find(k); it != index_.end()) {
    ++caps_[it->second].refs;
    return it->second;
  }
  const std::uint32_t id = caps_.acquire();
  caps_[id] = CapsEntry{c, k, 1};
  index_.emplace(std::move(k), id);
  return id;
}

void FieldTable::unref(std::uint32_t id) {
  if (id == kNone) return;
  if (--caps_[id].refs == 0) {
    index_.erase(caps_[id].key);
    caps_.release(id);
  }
}

}  // namespace rpsync::core
