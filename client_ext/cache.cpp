// SPDX-License-Identifier: MIT
#include "client_ext/cache.h"

#include <utility>

namespace rpsync::client {

std::string_view to_string(PresenceChange::Kind k) {
  switch (k) {
    case PresenceChange::Kind::kAvailable:
      return "available";
    case PresenceChange::Kind::kChanged:
      return "changed";
    case PresenceChange::Kind::kUnavailable:
      return "unavailable";
  }
  return "?";
}

std::vector<PresenceChange> changes_between(const proto::PresenceState& before,
                                            const proto::PresenceState& after) {
  std::vector<PresenceChange> out;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      out.push_back({b->first, PresenceChange::Kind::kUnavailable, {}, 0});
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      out.push_back({a->first, PresenceChange::Kind::kAvailable, a->second, 0});
      ++a;
    } else {
      if (!(a->second == b->second)) {
        out.push_back({a->first, PresenceChange::Kind::kChanged, a->second,
                       proto::differing(b->second, a->second)});
      }
      ++a;
      ++b;
    }
  }
  return out;
}

void PresenceCache::reset(proto::PresenceState state) {
  snapshot_ = state;
  live_ = std::move(state);
}

std::optional<PresenceChange> PresenceCache::on_presence(
    std::string_view full_jid, const std::optional<proto::PresenceFields>& fields) {
  auto it = live_.find(full_jid);
  if (!fields) {
    if (it == live_.end()) return std::nullopt;
    live_.erase(it);
    return PresenceChange{std::string(full_jid), PresenceChange::Kind::kUnavailable, {}, 0};
  }
  if (it == live_.end()) {
    live_.emplace(std::string(full_jid), *fields);
    return PresenceChange{std::string(full_jid), PresenceChange::Kind::kAvailable, *fields, 0};
  }
  if (it->second == *fields) return std::nullopt;
  const proto::FieldMask mask = proto::differing(it->second, *fields);
  it->second = *fields;
  return PresenceChange{std::string(full_jid), PresenceChange::Kind::kChanged, *fields, mask};
}

DeltaFailure PresenceCache::apply_delta(const proto::Delta& d,
                                        std::vector<PresenceChange>* changes) {
  proto::PresenceState next = snapshot_;
  if (!proto::apply(next, d)) return DeltaFailure::kDoesNotApply;
  if (!(proto::digest_of(next) == d.state)) return DeltaFailure::kDigestMismatch;
  if (changes != nullptr) *changes = changes_between(live_, next);
  snapshot_ = next;
  live_ = std::move(next);
  return DeltaFailure::kNone;
}

bool PresenceCache::adopt_if_matches(const proto::StateDigest& state) {
  if (!(proto::digest_of(live_) == state)) return false;
  snapshot_ = live_;
  return true;
}

}  // namespace rpsync::client
