// SPDX-License-Identifier: MIT
#include "protocol/delta.h"

#include <charconv>
#include <set>

#include "protocol/detail.h"

namespace rpsync::proto {
namespace {

xml::Element element(std::string_view name) {
  return xml::Element(std::string(name), std::string(ns::kRpsync));
}

// Reads one field child into `p`. Each field must carry a non-default value.
std::optional<StanzaError> read_field(const xml::Element& c, Field f, PresenceFields& p,
                                      const Limits& limits) {
  auto too_long = [&](std::size_t n, std::size_t max) -> std::optional<StanzaError> {
    if (n > max)
      return bad_request("<" + c.name() + "/> is longer than " + std::to_string(max) + " bytes");
    return std::nullopt;
  };
  switch (f) {
    case Field::kShow: {
      auto s = show_from(c.text());
      if (!s || *s == Show::kNone)
        return bad_request("<show/> must be one of chat, away, xa, dnd");
      p.show = *s;
      return std::nullopt;
    }
    case Field::kStatus:
      if (c.text().empty()) return bad_request("<status/> must not be empty (use <unset/>)");
      if (auto e = too_long(c.text().size(), limits.max_status)) return e;
      p.status = c.text();
      return std::nullopt;
    case Field::kPriority: {
      int v = 0;
      const std::string& t = c.text();
      auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || v < -128 || v > 127 ||
          v == 0)
        return bad_request("<priority/> must be a non-zero integer from -128 to 127");
      p.priority = static_cast<std::int8_t>(v);
      return std::nullopt;
    }
    case Field::kCaps: {
      auto node = c.attr("node");
      auto ver = c.attr("ver");
      if (!node || !ver || node->empty() || ver->empty())
        return bad_request("<caps/> needs non-empty 'node' and 'ver'");
      Caps caps{std::string(c.attr("hash").value_or("")), std::string(*node), std::string(*ver)};
      for (const std::string* v : {&caps.hash, &caps.node, &caps.ver})
        if (auto e = too_long(v->size(), limits.max_field)) return e;
      p.caps = std::move(caps);
      return std::nullopt;
    }
    case Field::kPhoto:
      if (c.text().empty()) return bad_request("<photo/> must not be empty (use <unset/>)");
      if (auto e = too_long(c.text().size(), limits.max_field)) return e;
      p.photo = c.text();
      return std::nullopt;
    case Field::kIdle: {
      auto since = c.attr("since");
      if (!since || since->empty()) return bad_request("<idle/> needs a 'since' attribute");
      if (auto e = too_long(since->size(), limits.max_field)) return e;
      p.idle_since = std::string(*since);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Reads the field children (and, when allowed, <unset/>) of <new/> or <changed/>.
std::optional<StanzaError> read_fields(const xml::Element& e, bool allow_unset,
                                       PresenceFields& values, FieldMask& set, FieldMask& unset,
                                       const Limits& limits) {
  for (const auto& c : e.children()) {
    if (c.ns() != ns::kRpsync) continue;  // foreign extensions are ignored
    if (c.name() == "unset") {
      if (!allow_unset) return bad_request("<unset/> is only allowed in <changed/>");
      auto name = c.attr("field");
      auto f = name ? field_from(*name) : std::nullopt;
      if (!f) return bad_request("<unset/> needs a 'field' naming a presence field");
      if ((set | unset) & bit(*f))
        return bad_request("field '" + std::string(*name) + "' appears twice");
      unset |= bit(*f);
      continue;
    }
    auto f = field_from(c.name());
    if (!f) return bad_request("unknown element <" + c.name() + "/> in <" + e.name() + "/>");
    if ((set | unset) & bit(*f)) return bad_request("field '" + c.name() + "' appears twice");
    if (auto err = read_field(c, *f, values, limits)) return err;
    set |= bit(*f);
  }
  return std::nullopt;
}

Result<std::string> jid_attr(const xml::Element& e, bool full, const Limits& limits) {
  auto jid = detail::required(e, "jid", limits.max_jid);
  if (!jid) return jid;
  if (full ? !detail::is_full_jid(*jid) : !detail::is_bare_jid(*jid))
    return bad_request("<" + e.name() + "/> needs a " + (full ? "full" : "bare") +
                       " JID, got " + detail::quote(*jid));
  return jid;
}

}  // namespace

namespace {

std::optional<std::string> field_exceeds(const PresenceFields& p, FieldMask mask,
                                         const Limits& limits) {
  if ((mask & bit(Field::kStatus)) && p.status.size() > limits.max_status)
    return "a status of " + std::to_string(p.status.size()) + " bytes";
  if ((mask & bit(Field::kPhoto)) && p.photo.size() > limits.max_field)
    return "a photo hash of " + std::to_string(p.photo.size()) + " bytes";
  if ((mask & bit(Field::kIdle)) && p.idle_since.size() > limits.max_field)
    return "an idle time of " + std::to_string(p.idle_since.size()) + " bytes";
  if ((mask & bit(Field::kCaps)) && p.caps &&
      (p.caps->hash.size() > limits.max_field || p.caps->node.size() > limits.max_field ||
       p.caps->ver.size() > limits.max_field))
    return "caps longer than " + std::to_string(limits.max_field) + " bytes";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> exceeds_limits(const Delta& d, const Limits& limits) {
  if (d.items() > limits.max_delta_items)
    return std::to_string(d.items()) + " items";
  auto jid_too_long = [&](const std::string& jid) -> std::optional<std::string> {
    if (jid.size() > limits.max_jid) return "a JID of " + std::to_string(jid.size()) + " bytes";
    return std::nullopt;
  };
  for (const auto& c : d.contacts)
    if (auto e = jid_too_long(c.jid)) return e;
  for (const auto& n : d.added) {
    if (auto e = jid_too_long(n.jid)) return e;
    if (auto e = field_exceeds(n.fields, kAllFields, limits)) return *e + " for " + n.jid;
  }
  for (const auto& c : d.changed) {
    if (auto e = jid_too_long(c.jid)) return e;
    if (auto e = field_exceeds(c.values, c.set, limits)) return *e + " for " + c.jid;
  }
  for (const auto& jid : d.unavailable)
    if (auto e = jid_too_long(jid)) return e;
  return std::nullopt;
}

bool operator==(const ChangedResource& a, const ChangedResource& b) {
  if (a.jid != b.jid || a.set != b.set || a.unset != b.unset) return false;
  PresenceFields va, vb;
  copy_fields(va, a.values, a.set);
  copy_fields(vb, b.values, b.set);
  return va == vb;
}

ChangedResource make_change(std::string jid, const PresenceFields& before,
                            const PresenceFields& after) {
  ChangedResource c;
  c.jid = std::move(jid);
  FieldMask diff = differing(before, after);
  FieldMask now_set = set_fields(after);
  c.set = diff & now_set;
  c.unset = static_cast<FieldMask>(diff & ~now_set);
  copy_fields(c.values, after, c.set);
  return c;
}

void append_fields(xml::Element& parent, const PresenceFields& p, FieldMask mask) {
  mask &= set_fields(p);
  if (mask & bit(Field::kShow)) parent.add(element("show")).set_text(std::string(to_string(p.show)));
  if (mask & bit(Field::kStatus)) parent.add(element("status")).set_text(p.status);
  if (mask & bit(Field::kPriority))
    parent.add(element("priority")).set_text(std::to_string(p.priority));
  if (mask & bit(Field::kCaps)) {
    auto& c = parent.add(element("caps"));
    if (!p.caps->hash.empty()) c.set_attr("hash", p.caps->hash);
    c.set_attr("node", p.caps->node);
    c.set_attr("ver", p.caps->ver);
  }
  if (mask & bit(Field::kPhoto)) parent.add(element("photo")).set_text(p.photo);
  if (mask & bit(Field::kIdle)) parent.add(element("idle")).set_attr("since", p.idle_since);
}

xml::Element to_xml(const Delta& d) {
  auto x = element("delta");
  x.set_attr("lifetime", std::to_string(d.lifetime));
  detail::put_digest(x, d.state);
  for (const auto& c : d.contacts) {
    auto& e = x.add(element("contact"));
    e.set_attr("jid", c.jid);
    e.set_attr("change", c.kind == ContactChange::Kind::kAdded ? "added" : "removed");
  }
  for (const auto& n : d.added) {
    auto& e = x.add(element("new"));
    e.set_attr("jid", n.jid);
    append_fields(e, n.fields, kAllFields);
  }
  for (const auto& c : d.changed) {
    auto& e = x.add(element("changed"));
    e.set_attr("jid", c.jid);
    append_fields(e, c.values, c.set);
    for (Field f : kFieldsInOrder)
      if (c.unset & bit(f)) e.add(element("unset")).set_attr("field", std::string(field_name(f)));
  }
  for (const auto& jid : d.unavailable) x.add(element("unavailable")).set_attr("jid", jid);
  return x;
}

Result<Delta> parse_delta(const xml::Element& e, const Limits& limits) {
  if (auto err = detail::expect(e, "delta")) return *err;
  Delta d;
  auto lifetime = detail::required_u32(e, "lifetime");
  if (!lifetime) return lifetime.error();
  d.lifetime = *lifetime;
  auto state = detail::required_digest(e);
  if (!state) return state.error();
  d.state = *state;

  std::set<std::string_view> resources;
  std::set<std::string_view> contacts;
  std::size_t items = 0;
  for (const auto& c : e.children()) {
    if (c.ns() != ns::kRpsync) continue;
    if (++items > limits.max_delta_items)
      return bad_request("<delta/> has more than " + std::to_string(limits.max_delta_items) +
                         " items");
    const bool is_contact = c.name() == "contact";
    if (!is_contact && c.name() != "new" && c.name() != "changed" && c.name() != "unavailable")
      return bad_request("unknown element <" + c.name() + "/> in <delta/>");
    auto jid = jid_attr(c, !is_contact, limits);
    if (!jid) return jid.error();
    auto& seen = is_contact ? contacts : resources;
    if (!seen.insert(c.attr("jid").value()).second)
      return bad_request(detail::quote(*jid) + " appears twice in <delta/>");

    if (is_contact) {
      auto change = c.attr("change");
      if (change == "added") {
        d.contacts.push_back({std::move(jid).value(), ContactChange::Kind::kAdded});
      } else if (change == "removed") {
        d.contacts.push_back({std::move(jid).value(), ContactChange::Kind::kRemoved});
      } else {
        return bad_request("<contact/> needs change='added' or change='removed'");
      }
    } else if (c.name() == "unavailable") {
      if (!c.children().empty()) return bad_request("<unavailable/> must be empty");
      d.unavailable.push_back(std::move(jid).value());
    } else {
      const bool is_new = c.name() == "new";
      PresenceFields values;
      FieldMask set = 0, unset = 0;
      if (auto err = read_fields(c, !is_new, values, set, unset, limits)) return *err;
      if (is_new) {
        d.added.push_back({std::move(jid).value(), std::move(values)});
      } else {
        if ((set | unset) == 0) return bad_request("<changed/> names no field");
        d.changed.push_back({std::move(jid).value(), set, unset, std::move(values)});
      }
    }
  }
  return d;
}

}  // namespace rpsync::proto
