// SPDX-License-Identifier: MIT
#include "plugin/feed/apply.h"

#include <type_traits>
#include <variant>

namespace rpsync::feed {

Applied apply_entry(core::Engine& engine, const Entry& entry, const Self& self) {
  Applied a;
  if (entry.origin == self.instance) return a;
  switch (entry.kind) {
    case Kind::kPurgeUser:
      engine.purge_user(entry.user, core::Engine::Source::kReplicated);
      ++a.admin;
      return a;
    case Kind::kInvalidateKeys:
      engine.invalidate_keys(entry.user);
      ++a.admin;
      return a;
    case Kind::kMutations:
      break;
  }
  const bool same_group = entry.observer_group == self.observer_group;
  std::size_t session = 0;
  for (const auto& m : entry.mutations) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, core::PutResource> ||
                        std::is_same_v<T, core::EraseResource>) {
            if (same_group) {
              ++a.presence_skipped;
              return;
            }
            engine.apply_replicated(m);
            ++a.presence;
          } else if constexpr (std::is_same_v<T, core::PutSession>) {
            const SessionDigests d =
                session < entry.digests.size() ? entry.digests[session] : SessionDigests{};
            ++session;
            engine.adopt_session(x.session, d.newest, d.previous);
            ++a.sessions;
            const auto& s = x.session;
            if (engine.digest_at(s.user, s.stream, s.resource, s.newest.id)) ++a.answerable;
          } else if constexpr (std::is_same_v<T, core::EraseSession>) {
            engine.apply_replicated(m);
            ++a.sessions;
          } else if constexpr (std::is_same_v<T, core::PutRoster>) {
            engine.apply_replicated(m);
            ++a.rosters;
          }
        },
        m);
  }
  return a;
}

}  // namespace rpsync::feed
