// SPDX-License-Identifier: MIT
// Persistence of the sync key and the presence snapshot across application restarts,
// scoped per account (bare JID). Backends implement SessionStore; SqliteSessionStore
// is the crash-safe default (one SQLite transaction per save, synchronous=FULL), and
// MemorySessionStore serves tests and applications that do not persist.
// SqliteSessionStore is also a RosterCache (roster_cache.h): the same file, own tables.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "roster_cache.h"
#include "scram.h"
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

namespace detail {
// SessionStore and RosterCache both declare load(account) and erase(account); one class
// cannot override both (load differs only in its result, and erase must not mean both).
// These bridges forward each interface to distinctly named functions.
class SessionStoreBridge : public SessionStore {
 public:
  LoadResult load(std::string_view account) final { return load_session(account); }
  Status save(std::string_view account, const SavedSession& s) final {
    return save_session(account, s);
  }
  Status erase(std::string_view account) final { return erase_session(account); }
  virtual LoadResult load_session(std::string_view account) = 0;
  virtual Status save_session(std::string_view account, const SavedSession& s) = 0;
  virtual Status erase_session(std::string_view account) = 0;
};
class RosterCacheBridge : public RosterCache {
 public:
  RosterLoadResult load(std::string_view account) final { return load_roster(account); }
  Status save(std::string_view account, const CachedRoster& r) final {
    return save_roster(account, r);
  }
  Status erase(std::string_view account) final { return erase_roster(account); }
  virtual RosterLoadResult load_roster(std::string_view account) = 0;
  virtual Status save_roster(std::string_view account, const CachedRoster& r) = 0;
  virtual Status erase_roster(std::string_view account) = 0;
};
}  // namespace detail

// SQLite file at `path` (created if missing). A record whose stored count/digest does
// not match its presence rows is reported as corrupt; so is a file that is not a
// database. Not thread-safe; one instance per file per process.
//
// As a RosterCache (tables rpsync_roster, rpsync_roster_item) each save is one
// transaction; the header row holds the item count and roster_checksum(), and load()
// reports kCorrupt when the rows do not match them. On the concrete type, load() and
// erase() are the SessionStore ones; use load_roster()/erase_roster() (or a RosterCache&)
// for the roster. The session and the roster of an account are independent records.
//
// As a ScramCache (table rpsync_scram, scram.h) it keeps one SCRAM-SHA-1 SaltedPassword
// per account: a login credential for that server, so the file deserves the protection
// of a password file (Client::set_scram_cache(&store) opts in).
class SqliteSessionStore final : public detail::SessionStoreBridge,
                                 public detail::RosterCacheBridge,
                                 public ScramCache {
 public:
  using detail::RosterCacheBridge::save;
  using detail::SessionStoreBridge::erase;
  using detail::SessionStoreBridge::load;
  using detail::SessionStoreBridge::save;

  // Opens (or creates) the database. On failure the store is unusable and every
  // operation returns open_status().
  explicit SqliteSessionStore(std::string path);
  ~SqliteSessionStore() override;
  SqliteSessionStore(const SqliteSessionStore&) = delete;
  SqliteSessionStore& operator=(const SqliteSessionStore&) = delete;

  const Status& open_status() const { return open_status_; }

  LoadResult load_session(std::string_view account) override;
  Status save_session(std::string_view account, const SavedSession& session) override;
  Status erase_session(std::string_view account) override;

  RosterLoadResult load_roster(std::string_view account) override;
  Status save_roster(std::string_view account, const CachedRoster& roster) override;
  Status erase_roster(std::string_view account) override;

  std::optional<std::string> load_salted_password(const std::string& account,
                                                  const std::string& salt,
                                                  std::uint32_t iterations) override;
  void save_salted_password(const std::string& account, const std::string& salt,
                            std::uint32_t iterations, const std::string& salted_password) override;
  void erase_salted_password(const std::string& account) override;

 private:
  struct Db;
  Status ensure_open();
  std::string path_;
  std::unique_ptr<Db> db_;
  Status open_status_;
};

}  // namespace rpsync::client
