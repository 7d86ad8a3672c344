// SPDX-License-Identifier: MIT
// Publishing to the change feed (entry.h): from a RedisStore commit (the normal path, so a
// change and its entry land in one MULTI/EXEC) or directly (admin operations, tools,
// tests, benchmarks).
//
// Threading: a Publisher and a FeedWriter are used by one thread at a time (the owner's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plugin/feed/entry.h"
#include "plugin/feed/redis_link.h"
#include "plugin/store/redis_store.h"

namespace rpsync::feed {

// Digests of a session's key moments at the origin; typically
//   [&engine](const core::SessionRecord& r) { return SessionDigests{
//       engine.digest_at(r.user, r.stream, r.resource, r.newest.id),
//       r.previous ? engine.digest_at(r.user, r.stream, r.resource, r.previous->id)
//                  : std::nullopt}; }
// Called while the commit is built (the moments are normally still live then; a moment
// gone by then yields nullopt and the peers adopt it as not answerable).
using DigestFn = std::function<SessionDigests(const core::SessionRecord&)>;

// Builds publish commands and stamps each entry with this process' writer id
// "INCARNATION:COUNTER" (INCARNATION random per Publisher). No I/O.
class Publisher {
 public:
  Publisher(FeedConfig config, std::string prefix);
  // Entries for committed mutations: PutEpoch dropped (epochs are per engine), at most
  // `max_per_entry` mutations per entry; none when nothing is left.
  std::vector<std::vector<std::string>> commands(const core::Batch& batch, const DigestFn& digests);
  std::vector<std::string> admin_command(Kind kind, std::string_view user);
  const FeedConfig& config() const { return config_; }
  const FeedKeys& keys() const { return keys_; }
  std::size_t max_per_entry = 1000;

 private:
  Entry stamp(Kind kind);
  FeedConfig config_;
  FeedKeys keys_;
  std::string incarnation_;
  std::uint64_t counter_ = 0;
};

// The hook that makes a RedisStore publish every commit (RedisStore::set_commit_hook).
store::RedisStore::CommitHook commit_hook(std::shared_ptr<Publisher> publisher, DigestFn digests);

// Direct publishing on its own connection. Every call returns kUnavailable or kTimeout
// with the reason when Redis is unavailable, kIoError when it refuses the commit (and
// reconnects on the next call). Entries of a failed call are kept and sent again, first,
// by the next call with the same writer ids (so a call that did land although its reply
// was lost is not applied twice); the outcome of the last failed call is therefore only
// known once a later call succeeds.
class FeedWriter {
 public:
  // Checks the config (kInvalidArgument with the reason) and connects lazily.
  static StatusOr<std::unique_ptr<FeedWriter>> open(const store::RedisTarget& target,
                                                    const FeedConfig& config);
  // Publishes `batch` as mutation entries (one MULTI/EXEC); returns the last new id
  // (empty when nothing was published).
  StatusOr<std::string> publish(const core::Batch& batch, const DigestFn& digests = {});
  // Admin operations, applied by every instance (plugin/feed/apply.h). The caller applies
  // them to its own engine itself (its reader skips its own entries).
  StatusOr<std::string> purge_user(std::string_view user);
  StatusOr<std::string> invalidate_keys(std::string_view user);  // "*": every user
  Publisher& publisher() { return publisher_; }

 private:
  FeedWriter(const store::RedisTarget& target, const FeedConfig& config);
  StatusOr<std::string> exec(std::vector<std::vector<std::string>> cmds);
  Link link_;
  Publisher publisher_;
  std::vector<std::vector<std::string>> unsent_;
};

}  // namespace rpsync::feed
