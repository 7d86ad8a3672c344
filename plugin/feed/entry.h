// SPDX-License-Identifier: MIT
// The change feed shared by several component instances over one Redis: what
// one entry holds, how it is laid out in the Redis Stream, and the keys involved.
//
// Stream P:{feed}:changes (P = the store's key prefix). Each entry has the fields
//   seq  feed sequence number: 1, 2, 3, ... with no hole (P:{feed}:seq is INCRed by the
//        same script that XADDs, so seq order = stream id order). A reader that sees a
//        seq jump knows entries were trimmed before it read them (a "feed gap").
//   o    origin: instance id of the publisher
//   g    observer group of the publisher (instances attached to the same XMPP server)
//   w    writer: "INCARNATION:COUNTER" of the publishing process. A commit re-sent after
//        an unknown outcome repeats it: readers drop the second copy.
//   k    kind: mutations | purge-user | invalidate-keys
//   p    payload (encode_payload below)
// Other keys: P:{feed}:seq (the counter), P:{feed}:read (hash: instance -> highest seq
// acknowledged by its group, for gap detection across restarts). All carry the hash tag
// {feed}, so one script may touch them together on Redis Cluster too.
//
// Retention: every XADD trims with MAXLEN ~ retention_entries (0 = no count bound) and,
// when retention_ms > 0, with MINID ~ (now - retention_ms). Entries an instance has not
// read yet are trimmed like any other: it then reports a feed gap.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/journal.h"
#include "protocol/digest.h"

namespace rpsync::feed {

enum class Kind { kMutations, kPurgeUser, kInvalidateKeys };
std::string_view kind_name(Kind kind);  // "mutations", "purge-user", "invalidate-keys"
std::optional<Kind> kind_from(std::string_view name);

// Digests of a session's key moments as the origin computed them (Engine::digest_at), so a
// peer adopts a moment as answerable only if its own view equals the client's state.
struct SessionDigests {
  std::optional<proto::StateDigest> newest;
  std::optional<proto::StateDigest> previous;
  friend bool operator==(const SessionDigests&, const SessionDigests&) = default;
};

struct Entry {
  std::string id;         // stream id, set by Redis (empty before publishing)
  std::uint64_t seq = 0;  // set by the publishing script
  std::string origin;
  std::string observer_group;
  std::string writer;
  Kind kind = Kind::kMutations;
  core::Batch mutations;                // kMutations (never PutEpoch: epochs are per engine)
  std::vector<SessionDigests> digests;  // kMutations: one per PutSession, in order
  std::string user;                     // kPurgeUser / kInvalidateKeys ("*": every user)
};

// Payload of an entry of its kind; decode returns false on malformed input.
std::string encode_payload(const Entry& entry);
bool decode_payload(std::string_view blob, Entry& entry);

// A stream id "MS-N"; ids of one stream are totally ordered.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t n = 0;
  static std::optional<StreamId> parse(std::string_view text);
  std::string str() const;
  friend auto operator<=>(const StreamId&, const StreamId&) = default;
};

// Identity and retention of one instance (config keys in brackets).
struct FeedConfig {
  std::string instance;        // [instance_id] unique per instance, [A-Za-z0-9_.-]{1,64}
  std::string observer_group;  // [observer_group] default: the XMPP server's host
  std::uint64_t retention_entries = 1000000;  // [feed_retention_entries] 0 = unbounded
  std::int64_t retention_ms = 0;              // [feed_retention_ms] 0 = no age bound
};
// A text saying why the config is unusable (a kInvalidArgument message), empty when fine.
std::string check_config(const FeedConfig& config);

struct FeedKeys {
  explicit FeedKeys(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string stream() const { return prefix_ + ":{feed}:changes"; }
  std::string seq() const { return prefix_ + ":{feed}:seq"; }
  std::string read() const { return prefix_ + ":{feed}:read"; }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
};

// The command (an EVAL) that appends `entry` (origin, group, writer, kind, payload as set
// in it) with its sequence number and trims per `config`; replies with the new id.
std::vector<std::string> publish_command(const FeedKeys& keys, const FeedConfig& config,
                                         const Entry& entry);

}  // namespace rpsync::feed
