// Persistence of the sync key and the presence snapshot across application restarts,
// scoped per account (bare JID). Backends implement SessionStore; SqliteSessionStore
// is the crash-safe default (one SQLite transaction per save, synchronous=FULL), and
// MemorySessionStore serves tests and applications that do not persist.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/state.h"
#include "protocol/sync.h"

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

struct StoreStatus {
  enum class Code : std::uint8_t { kOk, kIoError, kCorrupt };
  Code code = Code::kOk;
  std::string message;
  bool ok() const { return code == Code::kOk; }
  static StoreStatus io_error(std::string m) { return {Code::kIoError, std::move(m)}; }
  static StoreStatus corrupt(std::string m) { return {Code::kCorrupt, std::move(m)}; }
};

struct LoadResult {
  StoreStatus status;                   // kCorrupt: a record exists but cannot be trusted
  std::optional<SavedSession> session;  // set only when status is ok and a record exists
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;
  virtual LoadResult load(std::string_view account) = 0;
  // Replaces the account's record atomically: after a crash either the old or the new
  // record is found, never a mix.
  virtual StoreStatus save(std::string_view account, const SavedSession& session) = 0;
  virtual StoreStatus erase(std::string_view account) = 0;
};

class MemorySessionStore final : public SessionStore {
 public:
  LoadResult load(std::string_view account) override;
  StoreStatus save(std::string_view account, const SavedSession& session) override;
  StoreStatus erase(std::string_view account) override;

 private:
  std::map<std::string, SavedSession, std::less<>> sessions_;
};

// SQLite file at `path` (created if missing). A record whose stored count/digest does
// not match its presence rows is reported as corrupt; so is a file that is not a
// database. Not thread-safe; one instance per file per process.
class SqliteSessionStore final : public SessionStore {
 public:
  // Opens (or creates) the database. On failure the store is unusable and every
  // operation returns open_status().
  explicit SqliteSessionStore(std::string path);
  ~SqliteSessionStore() override;
  SqliteSessionStore(const SqliteSessionStore&) = delete;
  SqliteSessionStore& operator=(const SqliteSessionStore&) = delete;

  const StoreStatus& open_status() const { return open_status_; }

  LoadResult load(std::string_view account) override;
  StoreStatus save(std::string_view account, const SavedSession& session) override;
  StoreStatus erase(std::string_view account) override;

 private:
  struct Db;
  StoreStatus ensure_open();
  std::string path_;
  std::unique_ptr<Db> db_;
  StoreStatus open_status_;
};

}  // namespace rpsync::client
