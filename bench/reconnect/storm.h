// SPDX-License-Identifier: MIT
// Storm mode of rpsync_reconnect_bench: M gloox clients, each with the same C online
// contacts, reconnect at the same moment (one thread connects them all, then pumps them
// round robin), as after a server or network outage. Per round and mode: the bytes all
// clients received (serialised size of the elements gloox handed them; no proxy, so that
// 2M forwarding threads do not compete with the server), Prosody's and the component's
// CPU over the whole storm, and the time until every client holds its presence state
// (plain: its C-th contact presence arrived; rpsync: its delta was applied and verified
// by its digest) and until every client's ping returned.
//
// Both modes log in with the client library's cached SCRAM keys (the bench is one thread;
// plain's key derivations in a row would otherwise be billed as server time), plain with
// gloox's wire behaviour otherwise (legacy session, Nagle, no roster cache).
//
// The caller owns the server (users s00.. with C 'both' contacts each, contacts online)
// and the component; run_storm() logs every rpsync client in once (full login, enable)
// before the measured rounds, and every round ends with all clients logged out, each
// rpsync client holding a key again (a client that fell back to a full login enables).
// A client that fell back completes like plain (its C-th contact presence) and is counted
// in `fell_back`, not in `failed`.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace rpsync::bench {

struct StormSetup {
  std::uint16_t c2s_port = 0;
  std::string host;       // the users' domain
  std::string component;  // the rpsync component's JID
  std::string password;
  std::vector<std::string> users;  // node parts of the M clients' accounts
  std::size_t contacts = 0;        // C: online contacts of every client
  pid_t server_pid = 0, component_pid = 0;
  int rounds = 3;
  std::chrono::milliseconds timeout{120000};  // per storm
  // Clients connecting at once (0 = all): gloox waits with select(), so one process keeps
  // its sockets below 1024; more users reconnect in consecutive waves of this many.
  std::size_t wave = 0;
  // Runs before every rpsync storm, while every client is offline holding its key (e.g.
  // restarts the component); returns the component's pid from then on (0 = unchanged).
  std::function<pid_t()> before_rpsync;
};

// One mode's storm, medians over the rounds.
struct StormRow {
  std::string mode;  // "plain" or "gate_rv"
  double bytes = 0;  // all clients together
  double server_cpu_ms = 0, component_cpu_ms = 0;
  double state_ms = 0;     // until the last client held its state
  double complete_ms = 0;  // until the last client's ping returned
  std::size_t failed = 0;  // clients that did not finish (timeout, disconnect), all rounds
  // rpsync: clients whose reconnect was a verified delta / a full login after the
  // component refused the key (continuity-lost, unknown-key, ...), all rounds.
  std::size_t synced = 0, fell_back = 0;
  int rounds = 0;
};

// `between` runs after every storm (e.g. waits until the server is idle again).
std::vector<StormRow> run_storm(StormSetup setup, const std::function<void()>& between);

}  // namespace rpsync::bench
