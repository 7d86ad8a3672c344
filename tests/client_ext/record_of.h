// SPDX-License-Identifier: MIT
// record_of(load result): the stored record, or an empty optional when the load failed
// or found nothing, for assertions on what a SessionStore or RosterCache returned.
#pragma once

#include <optional>

#include "protocol/status.h"

namespace rpsync::client {

template <class T>
std::optional<T> record_of(const StatusOr<std::optional<T>>& loaded) {
  return loaded.ok() ? *loaded : std::nullopt;
}

}  // namespace rpsync::client
