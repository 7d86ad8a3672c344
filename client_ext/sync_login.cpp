// SPDX-License-Identifier: MIT
#include "client_ext/sync_login.h"

#include <utility>

#include "client_ext/answer_error.h"
#include "client_ext/extensions.h"

namespace rpsync::client {

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

namespace {

SyncAnswer read_delta(const DeltaExtension* ext, PresenceCache& cache, std::size_t answer_bytes) {
  SyncAnswer out;
  const proto::Delta* delta = ext != nullptr ? ext->value() : nullptr;
  if (delta == nullptr) {
    out.failure = {FullResyncReason::kMalformedAnswer, std::nullopt,
                   ext != nullptr && ext->error() ? ext->error()->text : "no <delta/>"};
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

}  // namespace

SyncAnswer read_sync_answer(const gloox::IQ& iq, PresenceCache& cache, std::size_t answer_bytes) {
  if (iq.subtype() == gloox::IQ::Result) {
    const auto* ext = iq.findExtension<DeltaExtension>(DeltaExtension::type_id());
    return read_delta(ext, cache, answer_bytes);
  }
  SyncAnswer out;
  const proto::StanzaError e = error_of(iq);
  out.failure = FullResync{FullResyncReason::kKeyRejected, e, describe(e)};
  out.component_missing = component_missing(e);
  return out;
}

}  // namespace rpsync::client
