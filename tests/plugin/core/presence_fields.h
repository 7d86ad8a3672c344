// SPDX-License-Identifier: MIT
// The presence fields the engine tests feed in: a show and an optional status.
#pragma once

#include <string>
#include <utility>

#include "protocol/presence.h"

namespace rpsync::core::testing {

inline proto::PresenceFields fields(proto::Show show, std::string status = {}) {
  proto::PresenceFields f;
  f.show = show;
  f.status = std::move(status);
  return f;
}

}  // namespace rpsync::core::testing
