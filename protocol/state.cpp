// SPDX-License-Identifier: MIT
#include "protocol/state.h"

namespace rpsync::proto {

StateDigest digest_of(const PresenceState& s) {
  StateDigest d;
  for (const auto& [jid, fields] : s) d.add(resource_hash(jid, fields));
  return d;
}

std::string_view bare_of(std::string_view jid) {
  auto slash = jid.find('/');
  return slash == std::string_view::npos ? jid : jid.substr(0, slash);
}

bool apply(PresenceState& s, const Delta& d) {
  for (const auto& jid : d.unavailable) {
    auto it = s.find(jid);
    if (it == s.end()) return false;
    s.erase(it);
  }
  for (const auto& c : d.contacts) {
    if (c.kind != ContactChange::Kind::kRemoved) continue;
    // Resources of a removed contact are dropped even if not listed as unavailable.
    auto it = s.lower_bound(c.jid);
    while (it != s.end() && bare_of(it->first) == c.jid) it = s.erase(it);
  }
  for (const auto& c : d.changed) {
    auto it = s.find(c.jid);
    if (it == s.end()) return false;
    copy_fields(it->second, c.values, c.set);
    reset_fields(it->second, c.unset);
  }
  for (const auto& n : d.added)
    if (!s.emplace(n.jid, n.fields).second) return false;
  return true;
}

Delta diff(const PresenceState& before, const PresenceState& after) {
  Delta d;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      d.unavailable.push_back(b->first);
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      d.added.push_back({a->first, a->second});
      ++a;
    } else {
      if (b->second != a->second) d.changed.push_back(make_change(a->first, b->second, a->second));
      ++a;
      ++b;
    }
  }
  d.state = digest_of(after);
  return d;
}

}  // namespace rpsync::proto
