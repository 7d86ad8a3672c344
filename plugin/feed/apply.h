// SPDX-License-Identifier: MIT
// Applying a feed entry to an instance's engine, with the observer-group rule:
//  * presence mutations (PutResource, EraseResource) are applied only when the entry comes
//    from ANOTHER observer group: peers attached to the same server saw the same presence
//    directly, and a lagging peer's copy could move a resource back to an older state;
//  * session mutations are applied by every instance: PutSession through
//    Engine::adopt_session with the origin's digests (answerable here only when this
//    engine's view equals the client's state), EraseSession drops the session;
//  * roster mutations are applied by every instance;
//  * admin entries: purge-user -> Engine::purge_user(user, kReplicated),
//    invalidate-keys -> Engine::invalidate_keys(user or "*").
// Nothing applied here is journaled (the origin stored it). Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>

#include "plugin/core/engine.h"
#include "plugin/feed/entry.h"

namespace rpsync::feed {

struct Self {
  std::string instance;
  std::string observer_group;
};

struct Applied {
  std::size_t presence = 0;
  std::size_t presence_skipped = 0;  // same observer group
  std::size_t sessions = 0;          // adopted or dropped
  std::size_t answerable = 0;        // adopted moments that can answer a sync here
  std::size_t rosters = 0;
  std::size_t admin = 0;
};

// Entries from `self.instance` itself are ignored (the reader never hands them over).
Applied apply_entry(core::Engine& engine, const Entry& entry, const Self& self);

}  // namespace rpsync::feed
