// SPDX-License-Identifier: MIT
#include "client_ext/sync_plan.h"

#include <utility>

namespace rpsync::client {

std::string_view to_string(FullResyncReason r) {
  switch (r) {
    case FullResyncReason::kNoStoredState:
      return "no-stored-state";
    case FullResyncReason::kStoreError:
      return "store-error";
    case FullResyncReason::kKeyExpired:
      return "key-expired";
    case FullResyncReason::kKeyRejected:
      return "key-rejected";
    case FullResyncReason::kDeltaDoesNotApply:
      return "delta-does-not-apply";
    case FullResyncReason::kDigestMismatch:
      return "digest-mismatch";
    case FullResyncReason::kMalformedAnswer:
      return "malformed-answer";
    case FullResyncReason::kTimeout:
      return "timeout";
    case FullResyncReason::kComponentUnavailable:
      return "component-unavailable";
  }
  return "?";
}

LoginStart plan_login(std::optional<FullResync>& load_failure,
                      const std::optional<SavedSession>& saved, std::int64_t unix_now,
                      const std::string& component) {
  if (load_failure) {
    FullResync f = std::move(*load_failure);
    load_failure.reset();
    return {LoginStart::Kind::kFullResync, std::move(f)};
  }
  if (!saved) return {LoginStart::Kind::kNoStoredState, {}};
  if (saved->expires_at <= unix_now) {
    return {LoginStart::Kind::kFullResync, {FullResyncReason::kKeyExpired, std::nullopt, {}}};
  }
  if (component.empty()) {
    return {LoginStart::Kind::kFullResync,
            {FullResyncReason::kComponentUnavailable, std::nullopt, {}}};
  }
  return {LoginStart::Kind::kSync, {}};
}

SyncAnswer read_delta(const proto::Delta* delta, std::string_view why, PresenceCache& cache,
                      std::size_t answer_bytes) {
  SyncAnswer out;
  if (delta == nullptr) {
    out.failure = {FullResyncReason::kMalformedAnswer, std::nullopt, std::string(why)};
    return out;
  }
  const DeltaFailure f = cache.apply_delta(*delta, &out.changes);
  if (f != DeltaFailure::kNone) {
    out.failure = {f == DeltaFailure::kDigestMismatch ? FullResyncReason::kDigestMismatch
                                                      : FullResyncReason::kDeltaDoesNotApply,
                   std::nullopt,
                   {}};
    return out;
  }
  out.lifetime = delta->lifetime;
  out.stats.items = delta->items();
  out.stats.bytes = answer_bytes;
  out.stats.count = delta->state.count();
  return out;
}

SyncAnswer read_sync_error(const proto::StanzaError& e) {
  SyncAnswer out;
  out.failure = FullResync{FullResyncReason::kKeyRejected, e, describe(e)};
  out.component_missing = component_missing(e);
  return out;
}

SavedSession saved_session(std::string component, proto::SyncKey key, std::uint32_t lifetime,
                           std::int64_t unix_now, proto::PresenceState snapshot) {
  return {std::move(component), std::move(key), unix_now + static_cast<std::int64_t>(lifetime),
          std::move(snapshot)};
}

bool component_missing(const proto::StanzaError& e) {
  if (e.app != proto::AppCondition::kNone) return false;
  switch (e.condition) {
    case proto::Condition::kServiceUnavailable:
    case proto::Condition::kRemoteServerNotFound:
    case proto::Condition::kRemoteServerTimeout:
    case proto::Condition::kRecipientUnavailable:
    case proto::Condition::kFeatureNotImplemented:
      return true;
    default:
      return false;
  }
}

std::string describe(const proto::StanzaError& e) {
  std::string s(proto::to_string(e.condition));
  if (e.app != proto::AppCondition::kNone) s += "/" + std::string(proto::to_string(e.app));
  if (!e.text.empty()) s += " (" + e.text + ")";
  return s;
}

}  // namespace rpsync::client
