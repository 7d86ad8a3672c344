// SPDX-License-Identifier: MIT
// The libstrophe side of rpsync_reconnect_bench (--client strophe): alice as a libstrophe
// 0.12 client, plain or with librpsync-strophe, reconnecting through the bench's byte
// counting proxy. The measured points match the gloox driver's (reconnect_bench.cpp):
//   plain   - roster get + initial presence; state = the Nth contact presence arrived;
//             complete = then a ping to the server returned.
//   nogate  - the binding with synced_marker = 0, no roster request; state = the delta was
//             applied and verified; complete = also the N flood presences arrived, then a
//             ping returned.
//   gate_rv - the binding (marker on) with its versioned roster helper
//             (rpsync_strophe_roster_request, the cached roster kept by the handle);
//             complete = delta verified, marked initial presence sent, then a ping.
//   gate    - the same without the roster request's version (roster_ver = 0).
// The binding keeps its key, presence snapshot and roster in a state file of its own per
// kind on tmpfs (/dev/shm, else /tmp), removed afterwards: librpsync-strophe caches the
// roster only with a state file. Every wait is bounded. Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace rpsync::bench::strophe {

enum class Kind { kPlain, kNoGate, kGateRosterVer, kGate };

struct DriverOptions {
  Kind kind = Kind::kPlain;
  std::uint16_t port = 0;  // the proxy in front of Prosody's c2s port
  std::string full_jid;
  std::string password;
  std::string component;  // the component's JID (configured: no discovery walk)
  bool trace = false;     // wire timeline of every reconnect on stderr (ms from connect)
};

// One measured reconnect, times in ms from the call of connect; 0 = did not happen.
struct Timeline {
  bool ok = false;
  std::string why;
  std::chrono::steady_clock::time_point t0{};
  double ms = 0;              // complete: state held, presence sent, ping answered
  double state_ms = 0;        // the client holds every contact's presence
  double roster_ms = 0;       // roster result (or cached roster) arrived
  double synced_ms = 0;       // delta applied and verified
  double presence_ms = 0;     // initial presence left
  double verified_ms = 0;     // the marked presence's verification checkpoint was answered
  std::size_t stanzas = 0;    // stanzas the application's handlers saw (after SASL)
  std::size_t presences = 0;  // available contact presence received
  std::size_t items = 0;      // delta items
  std::size_t roster_bytes = 0;
  bool roster_cached = false;
};

class StropheAlice {
 public:
  explicit StropheAlice(DriverOptions options);
  ~StropheAlice();
  StropheAlice(const StropheAlice&) = delete;
  StropheAlice& operator=(const StropheAlice&) = delete;

  // rpsync kinds: a full login that ends enabled, then a graceful logout. Plain: nothing.
  // False (with `why`) when it failed.
  bool prepare(std::string* why);
  // A measured reconnect with `contacts` online contacts, then a graceful logout.
  Timeline reconnect(std::size_t contacts, std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rpsync::bench::strophe
