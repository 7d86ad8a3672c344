// SPDX-License-Identifier: MIT
#include "protocol/presence.h"

#include <algorithm>

#include "protocol/limits.h"
#include "protocol/ns.h"

namespace rpsync::proto {

std::string_view to_string(Show s) {
  switch (s) {
    case Show::kNone:
      return "";
    case Show::kChat:
      return "chat";
    case Show::kAway:
      return "away";
    case Show::kXa:
      return "xa";
    case Show::kDnd:
      return "dnd";
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
    case Field::kShow:
      return "show";
    case Field::kStatus:
      return "status";
    case Field::kPriority:
      return "priority";
    case Field::kCaps:
      return "caps";
    case Field::kPhoto:
      return "photo";
    case Field::kIdle:
      return "idle";
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

FieldMask set_fields(const PresenceFields& p) {
  return differing(p, PresenceFields{});
}

void copy_fields(PresenceFields& to, const PresenceFields& from, FieldMask mask) {
  if (mask & bit(Field::kShow)) to.show = from.show;
  if (mask & bit(Field::kStatus)) to.status = from.status;
  if (mask & bit(Field::kPriority)) to.priority = from.priority;
  if (mask & bit(Field::kCaps)) to.caps = from.caps;
  if (mask & bit(Field::kPhoto)) to.photo = from.photo;
  if (mask & bit(Field::kIdle)) to.idle_since = from.idle_since;
}

void reset_fields(PresenceFields& p, FieldMask mask) {
  copy_fields(p, PresenceFields{}, mask);
}

namespace {

constexpr std::string_view kXmlSpace = " \t\r\n";

std::string_view trim_xml_space(std::string_view t) {
  const auto first = t.find_first_not_of(kXmlSpace);
  if (first == std::string_view::npos) return {};
  return t.substr(first, t.find_last_not_of(kXmlSpace) - first + 1);
}

// Spec "Presence Fields": XML whitespace around the value is ignored, then an optional
// sign and one or more decimal digits, nothing else; anything else is 0; out of range is
// clamped to -128..127.
std::int8_t priority_from(std::string_view text) {
  std::string_view t = trim_xml_space(text);
  bool negative = false;
  if (!t.empty() && (t.front() == '+' || t.front() == '-')) {
    negative = t.front() == '-';
    t.remove_prefix(1);
  }
  if (t.empty() || t.find_first_not_of("0123456789") != std::string_view::npos) return 0;
  long v = 0;
  for (char c : t) {
    v = v * 10 + (c - '0');
    if (v > 128) break;  // clamped below either way
  }
  if (negative) v = -v;
  return static_cast<std::int8_t>(std::clamp<long>(v, -128, 127));
}

bool digits(std::string_view s, std::size_t n, int lo, int hi) {
  if (s.size() < n) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return v >= lo && v <= hi;
}

}  // namespace

// The lexical form of xs:dateTime: -?YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)?, year of 4+
// digits (not 0000), fields in range (24:00:00 allowed as end of day).
bool is_xs_datetime(std::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  std::size_t y = 0;
  while (y < s.size() && s[y] >= '0' && s[y] <= '9') ++y;
  if (y < 4 || (y > 4 && s.front() == '0') ||
      s.substr(0, y).find_first_not_of('0') == std::string_view::npos)
    return false;
  s.remove_prefix(y);
  if (s.size() < 15 || s[0] != '-' || !digits(s.substr(1), 2, 1, 12) || s[3] != '-' ||
      !digits(s.substr(4), 2, 1, 31) || s[6] != 'T' || !digits(s.substr(7), 2, 0, 24) ||
      s[9] != ':' || !digits(s.substr(10), 2, 0, 59) || s[12] != ':' ||
      !digits(s.substr(13), 2, 0, 59))
    return false;
  const bool end_of_day = s.substr(7, 2) == "24";
  if (end_of_day && s.substr(7, 8) != "24:00:00") return false;
  s.remove_prefix(15);
  if (!s.empty() && s.front() == '.') {
    std::size_t n = 1;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 1) return false;
    if (end_of_day && s.substr(1, n - 1).find_first_not_of('0') != std::string_view::npos)
      return false;
    s.remove_prefix(n);
  }
  if (s.empty() || s == "Z") return true;
  return s.size() == 6 && (s[0] == '+' || s[0] == '-') && digits(s.substr(1), 2, 0, 14) &&
         s[3] == ':' && digits(s.substr(4), 2, 0, 59) &&
         (s.substr(1, 2) != "14" || s.substr(4, 2) == "00");
}

std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  std::size_t n = max_bytes;
  // s[n] is the first byte left out: while it continues a character, that character
  // started inside the prefix and goes too.
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

namespace {

bool fits(std::string_view v) {
  return v.size() <= kDefaultLimits.max_field;
}

std::optional<Caps> caps_from(const xml::Element& c) {
  auto node = c.attr("node");
  auto ver = c.attr("ver");
  auto hash = c.attr("hash").value_or("");
  if (!node || !ver || node->empty() || ver->empty()) return std::nullopt;
  if (!fits(*node) || !fits(*ver) || !fits(hash)) return std::nullopt;
  return Caps{std::string(hash), std::string(*node), std::string(*ver)};
}

}  // namespace

PresenceFields fields_from_presence(const xml::Element& presence) {
  PresenceFields p;
  const std::string& stanza_ns = presence.ns();
  bool have_show = false, have_status = false, have_priority = false;
  for (const auto& c : presence.children()) {
    if (c.ns() == stanza_ns) {
      // The first of each counts (RFC 6121 allows one; a repeated one is ignored).
      if (c.name() == "show" && !have_show) {
        p.show = show_from(c.text()).value_or(Show::kNone);
        have_show = true;
      } else if (c.name() == "status" && !have_status) {
        p.status = std::string(utf8_prefix(c.text(), kDefaultLimits.max_status));
        have_status = true;
      } else if (c.name() == "priority" && !have_priority) {
        p.priority = priority_from(c.text());
        have_priority = true;
      }
    } else if (c.is("c", ns::kCaps)) {
      p.caps = caps_from(c);
    } else if (c.is("x", ns::kVcardUpdate)) {
      if (auto photo = c.child_text("photo"); photo && fits(*photo)) p.photo = std::string(*photo);
    } else if (c.is("idle", ns::kIdle)) {
      // Only a valid xs:dateTime (XEP-0319); '' or anything else counts as no idle.
      if (auto since = c.attr("since"); since && fits(*since) && is_xs_datetime(*since))
        p.idle_since = std::string(*since);
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
