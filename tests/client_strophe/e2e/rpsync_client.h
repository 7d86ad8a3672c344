// SPDX-License-Identifier: MIT
// Test and bench helper: a libstrophe client with librpsync-strophe attached, as an
// application uses it (rpsync_strophe_connect_client, the versioned roster helper, the
// initial presence handed to the binding), recording everything the binding reports
// through its callbacks. The presence view it holds converts to proto::PresenceState so
// it can be compared with a fresh plain login's.
//
// Ownership: the handle is freed before the connection (StropheSession) is released.
// Not thread-safe.
#pragma once

#include <rpsync/strophe.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/state.h"
#include "tests/client_strophe/e2e/strophe_session.h"

namespace rpsync::test::strophe {

// One rpsync_strophe_presence_t, copied.
struct Change {
  std::string jid;
  rpsync_strophe_change_kind_t kind = RPSYNC_STROPHE_AVAILABLE;
  unsigned changed = 0;
  proto::PresenceFields fields;
};

struct Resync {
  rpsync_strophe_reason_t reason = RPSYNC_STROPHE_NO_STORED_STATE;
  std::string detail;
};

// What the callbacks reported, in order.
struct Reports {
  std::vector<rpsync_strophe_sync_stats_t> synced;
  std::vector<std::vector<Change>> synced_changes;
  std::vector<Resync> full_resyncs;
  std::vector<int> enabled;        // digest_matched per enable
  std::vector<int> presence_sent;  // marked per login
  std::vector<std::string> components;
  std::vector<std::vector<std::string>> rosters;  // JIDs of each roster report
  std::vector<int> roster_from_cache;
  std::vector<std::string> events;  // "synced", "full-resync:<reason>", "enabled", ...
  std::vector<std::chrono::steady_clock::time_point> event_times;  // one per event
  // Time of the first event at or after index `from` that starts with `prefix`.
  std::optional<std::chrono::steady_clock::time_point> time_of(const std::string& prefix,
                                                               std::size_t from = 0) const;
  void note(std::string event);
  std::vector<std::string> log;
};

struct ClientOptions {
  std::string full_jid;
  std::string password = "pw";
  std::uint16_t port = 0;
  std::string component = "rpsync.example.test";  // "" = discover
  std::string state_file;                         // "" = state lives with the handle
  bool roster = true;                             // request the (versioned) roster at every login
  bool fast_timers = true;  // test timers (settle 300 ms, checkpoint 300 ms, ...)
  bool synced_marker = true;
  bool wire_log = true;
  // The destructor closes a live connection before freeing the handle (see there);
  // false frees the handle of a live connection, then releases the connection.
  bool disconnect_before_free = true;
  // Last word on the binding's options (e.g. a bench's timers); runs after the above.
  std::function<void(rpsync_strophe_options_t&)> tune;
};

class RpsyncClient {
 public:
  explicit RpsyncClient(ClientOptions options);
  ~RpsyncClient();
  RpsyncClient(const RpsyncClient&) = delete;
  RpsyncClient& operator=(const RpsyncClient&) = delete;

  // rpsync_strophe_open_state's result (XMPP_EOK when no state file was asked for).
  int open_result() const { return open_result_; }
  rpsync_strophe_t* handle() const { return handle_; }
  StropheSession& session() { return *session_; }
  const StropheSession& session() const { return *session_; }
  const Reports& reports() const { return reports_; }
  Reports& reports() { return reports_; }

  // Connects; on XMPP_CONN_CONNECT requests the roster (if asked) and hands over the
  // initial presence. Pumps until the initial presence left; false on timeout/failure.
  bool login(Millis timeout = Millis(15000));
  // login(), then pumps until the phase is ONLINE (enabled or synced and checkpointed).
  bool login_until_online(Millis timeout = Millis(15000));
  // Graceful: rpsync_strophe_logout, pumped until disconnected.
  bool logout(Millis timeout = Millis(10000));

  rpsync_strophe_phase_t phase() const { return rpsync_strophe_get_phase(handle_); }
  rpsync_strophe_stats_t stats() const;
  // The binding's live presence view (full JID -> canonical fields).
  proto::PresenceState view() const;
  // The binding's count and digest of its view, as hex.
  std::string digest_hex() const;
  // JIDs of the cached roster, sorted.
  std::vector<std::string> roster_jids() const;

 private:
  void on_connected();
  ClientOptions options_;
  std::unique_ptr<StropheSession> session_;
  rpsync_strophe_t* handle_ = nullptr;
  int open_result_ = 0;
  Reports reports_;
  bool presence_left_ = false;
};

// The canonical fields of one presence the binding reported.
proto::PresenceFields fields_of(const rpsync_strophe_presence_t& p);

}  // namespace rpsync::test::strophe
