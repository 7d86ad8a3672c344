// SPDX-License-Identifier: MIT
// A gap decided per user (ServiceConfig::close_gaps_per_user; spec "Continuity"): once
// the presence is re-learned after a reconnect or a start, the served hosts that sent
// <sessions-sent/> on this connection are those whose local sessions' presence the server
// re-sent completely; a key from before the gap stays valid only when every contact of
// its user's view is on one of them (Engine::close_gap()).
#include <string>

#include "plugin/service/service.h"

namespace rpsync::service {

namespace {

std::string joined(const std::set<std::string, std::less<>>& hosts) {
  std::string out;
  for (const auto& h : hosts) out += (out.empty() ? "" : ",") + h;
  return out.empty() ? "-" : out;
}

}  // namespace

void Service::close_gap() {
  gap_pending_ = false;
  const auto& witnessed = sessions_.done();
  const core::Engine::GapDecision d = engine_.close_gap(witnessed);
  counters_.gap_keys_kept += d.kept;
  counters_.gap_keys_lost += d.lost;
  const std::string missing = sessions_.missing();
  log_.info("service", "continuity.decided",
            {{"kept", d.kept},
             {"lost", d.lost},
             {"users_uncovered", d.users_uncovered},
             {"witnessed", joined(witnessed)},
             {"unwitnessed", missing.empty() ? std::string("-") : missing}});
}

}  // namespace rpsync::service
