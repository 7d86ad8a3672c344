// SPDX-License-Identifier: MIT
// Group continuity for several instances: a key stays valid as long as at
// least one instance observed its server without a gap; it is lost only when every
// instance was cut off at once. Each instance still keeps its own engine epoch for its
// own gaps; this adds one GROUP EPOCH shared by all instances, raised only when an
// instance comes back from a gap that no peer is known to have covered.
//
// Keys (hash tag {meta}, one slot): P:{meta}:gepoch (the group epoch, INCR only),
// P:{meta}:inst:ID (heartbeat, SET ... PX ttl), hashes P:{meta}:since, :last, :gapfrom,
// :grp (field = instance id). All times are Redis TIME in ms: one clock for every
// instance, no skew between them.
//
// Runs. While an instance observes its server without a gap it calls beat() at least every
// ttl/3. A RUN is a sequence of beats each less than ttl after the previous one: beat()
// starts a new run (since[ID] = now) when the heartbeat key had expired, after end_run(),
// or on the first beat of this object (a restarted process); it records last[ID] = now
// on every beat and, when it starts a run, gapfrom[ID] = the last beat of the previous
// run (0 when there was none). So an instance vouches for [since, last]: it claimed to
// observe without a gap throughout.
//
// The rule (judge(), applied by decide() after this instance's own gap, i.e. after the
// first beat of its new run): the gap is G = [gapfrom[self], since[self]] (from the last
// beat before it to the first beat after it: it contains the real gap). Another instance J
// of the SAME observer group (only those saw the same presence) covers G when
//   since[J] <= gapfrom[self]  and  last[J] >= since[self]
// (one run of J spans G). Then:
//   kKept    some J covers G: no group epoch change;
//   kPending no J covers G yet, but some J whose heartbeat is alive has since[J] <=
//            gapfrom[self]: it has not beaten since our gap ended; ask again after one
//            beat period (bounded: if it does not beat within ttl it expires -> kLost);
//   kLost    otherwise: the group epoch is INCRed; every instance must then invalidate
//            every key (Engine::gap()) when beat() shows the new group epoch.
// A brand-new instance (gapfrom[self] is 0: it never beat before) has no past to vouch
// for; its "gap" is just its start, G = [since[self], since[self]]: a peer of its group
// observing across that moment keeps continuity (joining a running group invalidates
// nothing), while the first observer of a server nobody was observing raises the epoch.
//
// What it cannot prove: a peer vouches only for what it noticed. Between losing its
// server and noticing (TCP keepalive or XMPP ping timeout) it keeps beating, so two
// instances cut off within one detection time of each other may each count on the
// other. Make beats conditional on a recent sign of life from the server (the
// component's ping) and keep ttl above the detection time. A peer in the same observer
// group that observes the same server is trusted to have seen the same presence (true for
// one server; for a cluster it assumes every node broadcasts every presence to the
// component). It proves nothing about a peer's Redis or feed state: that one's own feed
// gaps are reported by its reader.
//
// Threading: one thread at a time (the owner's); every call is a blocking Redis round
// trip on its own connection: kUnavailable or kTimeout when Redis is unavailable, kIoError
// when it refuses a command.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugin/feed/redis_link.h"
#include "plugin/store/redis_store.h"

namespace rpsync::feed {

struct InstanceRun {
  std::string instance;
  std::string observer_group;
  bool alive = false;         // heartbeat key present
  std::int64_t since_ms = 0;  // start of its current (or last) run
  std::int64_t last_ms = 0;   // its last beat
};

enum class Verdict { kKept, kPending, kLost };

// The rule above, pure. `gap_from_ms`, `gap_to_ms`: gapfrom[self], since[self].
Verdict judge(std::string_view self, std::string_view observer_group, std::int64_t gap_from_ms,
              std::int64_t gap_to_ms, const std::vector<InstanceRun>& runs);

struct Beat {
  std::uint64_t group_epoch = 0;
  std::int64_t now_ms = 0;
  std::int64_t since_ms = 0;  // start of this instance's current run
  bool new_run = false;
  // This instance had its own gap (start-up or end_run()) not yet decided: call decide()
  // (now and after following beats) until it answers kKept or kLost. A run restarted only
  // because Redis was unreachable for longer than ttl is no gap in observation: no
  // decision is asked for (the run just starts later, so it vouches for less).
  bool decide = false;
};

struct Decision {
  Verdict verdict = Verdict::kLost;
  std::uint64_t group_epoch = 0;  // after the decision (raised when kLost)
  std::string covered_by;         // kKept: the instance whose run covered the gap
};

class GroupContinuity {
 public:
  GroupContinuity(store::RedisTarget target, std::string instance, std::string observer_group,
                  std::int64_t ttl_ms = 15000);
  StatusOr<Beat> beat();
  // This instance lost its view (its own gap starts): ends its run.
  Status end_run();
  // After beat() asked for it (Beat::decide). kKept and kLost settle the decision.
  StatusOr<Decision> decide();
  StatusOr<std::uint64_t> group_epoch();
  std::int64_t ttl_ms() const { return ttl_ms_; }

 private:
  std::string key(std::string_view what) const;
  Link link_;
  std::string instance_;
  std::string group_;
  std::int64_t ttl_ms_;
  bool first_ = true;      // the next beat starts a new run
  bool undecided_ = true;  // an own gap (start-up, end_run()) awaits decide()
};

}  // namespace rpsync::feed
