// SPDX-License-Identifier: MIT
// Operator commands on a group of instances sharing one Redis, run without an
// XMPP connection: `rpsync-component --config FILE --purge-user JID` and
// `--invalidate-keys JID|'*'`.
//
// purge-user: forgets the user's sessions (every key) and roster everywhere. Running
//   instances apply the feed's purge-user entry to their engines, but they journal nothing
//   for a replicated purge, so this command also deletes the user's rows from Redis itself
//   (the user's sessions hash and roster, written as EraseSession / empty PutRoster
//   through the RedisStore), then publishes the entry. Presence the user shows to
//   others is observed data and stays. Cost: the store image is loaded once to find the
//   user's sessions (O(store), like an instance's start-up).
// invalidate-keys: publishes the entry only (keys never survive a restart anyway); every
//   running instance then answers continuity-lost for those keys, and the sessions stay,
//   so a checkpoint takes a new valid key.
//
// Prints what it did on stdout, errors on stderr. Returns the process exit code: 0 when
// the entry was published (and, for purge-user, the rows deleted), 1 otherwise (Redis
// unreachable: nothing or only the row deletion happened; running it again is safe).
#pragma once

#include "plugin/app/config.h"

namespace rpsync::app {

int run_admin(const Invocation& invocation);

}  // namespace rpsync::app
