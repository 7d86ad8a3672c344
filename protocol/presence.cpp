// SPDX-License-Identifier: MIT
#include "protocol/presence.h"

#include <charconv>

#include "protocol/ns.h"

namespace rpsync::proto {

std::string_view to_string(Show s) {
  switch (s) {
    case Show::kNone: return "";
    case Show::kChat: return "chat";
    case Show::kAway: return "away";
    case Show::kXa: return "xa";
    case Show::kDnd: return "dnd";
  }
  return "";
}

std::optional<Show> show_from(std::string_view s) {
  if (s.empty()) return Show::kNone;
  if (s == "chat") return Show::kChat;
  if (s == "away") return Show::kAway;
  if (s == "xa") return Show::kXa;
  if (s == "dnd") return Show::kDnd;
  return std::nullopt;
}

std::string_view field_name(Field f) {
  switch (f) {
    case Field::kShow: return "show";
    case Field::kStatus: return "status";
    case Field::kPriority: return "priority";
    case Field::kCaps: return "caps";
    case Field::kPhoto: return "photo";
    case Field::kIdle: return "idle";
  }
  return "";
}

std::optional<Field> field_from(std::string_view name) {
  for (Field f : kFieldsInOrder)
    if (field_name(f) == name) return f;
  return std::nullopt;
}

FieldMask differing(const PresenceFields& a, const PresenceFields& b) {
  FieldMask m = 0;
  if (a.show != b.show) m |= bit(Field::kShow);
  if (a.status != b.status) m |= bit(Field::kStatus);
  if (a.priority != b.priority) m |= bit(Field::kPriority);
  if (a.caps != b.caps) m |= bit(Field::kCaps);
  if (a.photo != b.photo) m |= bit(Field::kPhoto);
  if (a.idle_since != b.idle_since) m |= bit(Field::kIdle);
  return m;
}

FieldMask set_fields(const PresenceFields& p) { return differing(p, PresenceFields{}); }

void copy_fields(PresenceFields& to, const PresenceFields& from, FieldMask mask) {
  if (mask & bit(Field::kShow)) to.show = from.show;
  if (mask & bit(Field::kStatus)) to.status = from.status;
  if (mask & bit(Field::kPriority)) to.priority = from.priority;
  if (mask & bit(Field::kCaps)) to.caps = from.caps;
  if (mask & bit(Field::kPhoto)) to.photo = from.photo;
  if (mask & bit(Field::kIdle)) to.idle_since = from.idle_since;
}

void reset_fields(PresenceFields& p, FieldMask mask) { copy_fields(p, PresenceFields{}, mask); }

PresenceFields fields_from_presence(const xml::Element& presence) {
  PresenceFields p;
  const std::string& stanza_ns = presence.ns();
  bool have_status = false;
  for (const auto& c : presence.children()) {
    if (c.ns() == stanza_ns) {
      if (c.name() == "show") {
        p.show = show_from(c.text()).value_or(Show::kNone);
      } else if (c.name() == "status" && !have_status) {
        p.status = c.text();
        have_status = true;
      } else if (c.name() == "priority") {
        long v = 0;
        std::string_view t = c.text();
        while (!t.empty() && (t.front() == ' ' || t.front() == '\n' || t.front() == '\t'))
          t.remove_prefix(1);
        if (!t.empty() && t.front() == '+') t.remove_prefix(1);
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc()) v = 0;
        if (v > 127) v = 127;
        if (v < -128) v = -128;
        p.priority = static_cast<std::int8_t>(v);
      }
    } else if (c.is("c", ns::kCaps)) {
      auto node = c.attr("node");
      auto ver = c.attr("ver");
      if (node && ver && !node->empty() && !ver->empty())
        p.caps = Caps{std::string(c.attr("hash").value_or("")), std::string(*node),
                      std::string(*ver)};
    } else if (c.is("x", ns::kVcardUpdate)) {
      if (auto photo = c.child_text("photo")) p.photo = std::string(*photo);
    } else if (c.is("idle", ns::kIdle)) {
      if (auto since = c.attr("since")) p.idle_since = std::string(*since);
    }
  }
  return p;
}

void add_presence_children(xml::Element& presence, const PresenceFields& p) {
  const std::string& stanza_ns = presence.ns();
  if (p.show != Show::kNone)
    presence.add(xml::Element("show", stanza_ns)).set_text(std::string(to_string(p.show)));
  if (!p.status.empty()) presence.add(xml::Element("status", stanza_ns)).set_text(p.status);
  if (p.priority != 0)
    presence.add(xml::Element("priority", stanza_ns)).set_text(std::to_string(p.priority));
  if (p.caps) {
    auto& c = presence.add(xml::Element("c", std::string(ns::kCaps)));
    if (!p.caps->hash.empty()) c.set_attr("hash", p.caps->hash);
    c.set_attr("node", p.caps->node);
    c.set_attr("ver", p.caps->ver);
  }
  if (!p.photo.empty()) {
    auto& x = presence.add(xml::Element("x", std::string(ns::kVcardUpdate)));
    x.add(xml::Element("photo", std::string(ns::kVcardUpdate))).set_text(p.photo);
  }
  if (!p.idle_since.empty())
    presence.add(xml::Element("idle", std::string(ns::kIdle))).set_attr("since", p.idle_since);
}

}  // namespace rpsync::proto
