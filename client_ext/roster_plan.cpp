// SPDX-License-Identifier: MIT
#include "client_ext/roster_plan.h"

namespace rpsync::client {

std::string_view to_string(RosterRequestKind kind) {
  switch (kind) {
    case RosterRequestKind::kPlain:
      return "plain";
    case RosterRequestKind::kBootstrap:
      return "bootstrap";
    case RosterRequestKind::kVersioned:
      return "versioned";
  }
  return "?";
}

RosterRequest plan_roster_request(bool have_cache, bool server_rosterver,
                                  const RosterLoadResult& loaded) {
  if (!have_cache || !server_rosterver) return {RosterRequestKind::kPlain, {}};
  if (!loaded.ok() || !*loaded || (*loaded)->ver.empty()) {
    return {RosterRequestKind::kBootstrap, {}};
  }
  return {RosterRequestKind::kVersioned, (*loaded)->ver};
}

}  // namespace rpsync::client
