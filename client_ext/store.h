// SPDX-License-Identifier: MIT
// Persistence of the sync key and the presence snapshot across application restarts,
// scoped per account (bare JID). Backends implement SessionStore: SqliteSessionStore
// (sqlite_session_store.h) is the crash-safe default (one SQLite transaction per save,
// synchronous=FULL), and MemorySessionStore serves tests and applications that do not
// persist.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "../protocol/state.h"
#include "../protocol/status.h"
#include "../protocol/sync.h"

namespace rpsync::client {

// Everything needed to sync after a restart: the key, the component that holds it,
// and the presence state at the key's moment.
struct SavedSession {
  std::string component;  // JID of the rpsync component
  proto::SyncKey key;
  std::int64_t expires_at = 0;  // unix seconds after which the key is certainly expired
  proto::PresenceState state;
  friend bool operator==(const SavedSession&, const SavedSession&) = default;
};

// The account's record (an empty optional when there is none), or the error: kCorrupt
// when a record exists but cannot be trusted, kIoError when it cannot be read.
using LoadResult = StatusOr<std::optional<SavedSession>>;

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual LoadResult load(std::string_view account) = 0;
  // Replaces the account's record atomically: after a crash either the old or the new
  // record is found, never a mix.
  virtual Status save(std::string_view account, const SavedSession& session) = 0;
  virtual Status erase(std::string_view account) = 0;
};

class MemorySessionStore final : public SessionStore {
 public:
  LoadResult load(std::string_view account) override;
  Status save(std::string_view account, const SavedSession& session) override;
  Status erase(std::string_view account) override;

 private:
  std::map<std::string, SavedSession, std::less<>> sessions_;
};

}  // namespace rpsync::client
