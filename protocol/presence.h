// SPDX-License-Identifier: MIT
// Canonical presence fields of one contact resource (spec: "Presence Fields").
// Every field has a default; a field is "set" when it differs from its default.
// Pure values, standard library only (plus the XML bridge at the bottom).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "xml.h"

namespace rpsync::proto {

enum class Show : std::uint8_t { kNone, kChat, kAway, kXa, kDnd };  // kNone = plain available

std::string_view to_string(Show s);                 // "" for kNone
std::optional<Show> show_from(std::string_view s);  // "" -> kNone; unknown -> nullopt

struct Caps {
  std::string hash;  // may be empty (legacy caps)
  std::string node;
  std::string ver;
  friend bool operator==(const Caps&, const Caps&) = default;
};

struct PresenceFields {
  Show show = Show::kNone;
  std::string status;  // empty = absent
  std::int8_t priority = 0;
  std::optional<Caps> caps;
  std::string photo;       // empty = absent
  std::string idle_since;  // empty = absent
  friend bool operator==(const PresenceFields&, const PresenceFields&) = default;
};

// Bit per field; the order is the wire order of fields.
enum class Field : std::uint8_t {
  kShow = 1u << 0,
  kStatus = 1u << 1,
  kPriority = 1u << 2,
  kCaps = 1u << 3,
  kPhoto = 1u << 4,
  kIdle = 1u << 5,
};
using FieldMask = std::uint8_t;
inline constexpr FieldMask kAllFields = 0x3f;
constexpr FieldMask bit(Field f) {
  return static_cast<FieldMask>(f);
}

std::string_view field_name(Field f);  // "show", "status", ...
std::optional<Field> field_from(std::string_view name);
inline constexpr Field kFieldsInOrder[] = {Field::kShow, Field::kStatus, Field::kPriority,
                                           Field::kCaps, Field::kPhoto,  Field::kIdle};

// Fields whose values differ between a and b.
FieldMask differing(const PresenceFields& a, const PresenceFields& b);
// Fields of p that are not at their default.
FieldMask set_fields(const PresenceFields& p);
// Copies the fields in `mask` from `from` into `to`.
void copy_fields(PresenceFields& to, const PresenceFields& from, FieldMask mask);
// Resets the fields in `mask` of p to their defaults.
void reset_fields(PresenceFields& p, FieldMask mask);

// Canonicalises the fields of an XMPP <presence/> (available; any stanza namespace), by
// the spec's rules ("Presence Fields"): the first show/status/priority counts; unknown
// show -> none; priority is [XML space][+|-]digits[XML space], anything else 0, clamped to
// -128..127; idle only with a valid xs:dateTime 'since'. Bounded: the status is cut to
// Limits::max_status bytes on a character boundary (utf8_prefix); a caps, photo or idle
// value over Limits::max_field bytes counts as absent, so no canonical presence exceeds
// what a delta may carry. Lenient: it reads what the server already accepted, and client
// and component must agree on it.
PresenceFields fields_from_presence(const xml::Element& presence);
// The longest prefix of UTF-8 text `s` of at most `max_bytes` bytes that does not split a
// character.
std::string_view utf8_prefix(std::string_view s, std::size_t max_bytes);
// Whether `s` has the lexical form of xs:dateTime (XML Schema 1.0).
bool is_xs_datetime(std::string_view s);
// Adds the standard XMPP children for `p` to a <presence/> element.
void add_presence_children(xml::Element& presence, const PresenceFields& p);

}  // namespace rpsync::proto
