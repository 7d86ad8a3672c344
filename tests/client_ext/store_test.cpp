// SPDX-License-Identifier: MIT
#include "client_ext/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "client_ext/sqlite_scram_cache.h"
#include "client_ext/sqlite_session_store.h"
#include "tests/client_ext/record_of.h"

namespace rpsync::client {
namespace {

namespace fs = std::filesystem;

SavedSession sample(std::string last) {
  SavedSession s;
  s.component = "rpsync.example.test";
  s.key = {"stream-abc", "laptop", std::move(last)};
  s.expires_at = 1'800'000'000;
  proto::PresenceFields rich;
  rich.show = proto::Show::kDnd;
  rich.status = "in a meeting — ünïcode";
  rich.priority = -7;
  rich.caps = proto::Caps{"", "http://legacy", "1.0"};  // legacy caps: empty hash
  rich.photo = "abcdef";
  rich.idle_since = "2026-11-21T10:00:00Z";
  s.state["alice@example.test/phone"] = rich;
  s.state["bob@example.test/desk"] = proto::PresenceFields{};
  return s;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() /
            ("rpsync-store-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string file(const char* name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

// One contract suite over every backend.
template <class Store>
struct Backend;
template <>
struct Backend<MemorySessionStore> {
  TempDir dir;
  std::unique_ptr<SessionStore> make() { return std::make_unique<MemorySessionStore>(); }
};
template <>
struct Backend<SqliteSessionStore> {
  TempDir dir;
  std::unique_ptr<SqliteDatabase> db;
  std::unique_ptr<SessionStore> make() {
    db = std::make_unique<SqliteDatabase>(dir.file("state.db"));
    return std::make_unique<SqliteSessionStore>(*db);
  }
};

template <class Store>
class StoreContract : public ::testing::Test {
 protected:
  Backend<Store> backend;
};
using Backends = ::testing::Types<MemorySessionStore, SqliteSessionStore>;
TYPED_TEST_SUITE(StoreContract, Backends);

TYPED_TEST(StoreContract, AbsentAccountLoadsNothing) {
  auto store = this->backend.make();
  LoadResult r = store->load("nobody@example.test");
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(record_of(r));
}

TYPED_TEST(StoreContract, SaveLoadRoundTrip) {
  auto store = this->backend.make();
  ASSERT_TRUE(store->save("me@example.test", sample("iq-1")).ok());
  LoadResult r = store->load("me@example.test");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_TRUE(record_of(r));
  EXPECT_EQ(*record_of(r), sample("iq-1"));
}

TYPED_TEST(StoreContract, SaveReplacesWholeRecord) {
  auto store = this->backend.make();
  ASSERT_TRUE(store->save("me@example.test", sample("iq-1")).ok());
  SavedSession smaller = sample("iq-2");
  smaller.state.erase("alice@example.test/phone");
  ASSERT_TRUE(store->save("me@example.test", smaller).ok());
  LoadResult r = store->load("me@example.test");
  ASSERT_TRUE(record_of(r));
  EXPECT_EQ(*record_of(r), smaller);
}

TYPED_TEST(StoreContract, AccountsAreSeparate) {
  auto store = this->backend.make();
  SavedSession other = sample("iq-9");
  other.state.clear();
  ASSERT_TRUE(store->save("me@example.test", sample("iq-1")).ok());
  ASSERT_TRUE(store->save("you@example.test", other).ok());
  EXPECT_EQ(*record_of(store->load("me@example.test")), sample("iq-1"));
  EXPECT_EQ(*record_of(store->load("you@example.test")), other);
  ASSERT_TRUE(store->erase("me@example.test").ok());
  EXPECT_FALSE(record_of(store->load("me@example.test")));
  EXPECT_EQ(*record_of(store->load("you@example.test")), other);
}

TEST(SqliteStore, SurvivesReopen) {
  TempDir dir;
  {
    SqliteDatabase s_db(dir.file("state.db"));
    SqliteSessionStore s(s_db);
    ASSERT_TRUE(s_db.open_status().ok());
    ASSERT_TRUE(s.save("me@example.test", sample("iq-1")).ok());
  }
  SqliteDatabase s_db(dir.file("state.db"));
  SqliteSessionStore s(s_db);
  LoadResult r = s.load("me@example.test");
  ASSERT_TRUE(record_of(r));
  EXPECT_EQ(*record_of(r), sample("iq-1"));
}

// The SCRAM key cache (scram.h) persists across reopen, is keyed by salt and count, and
// is independent of the session record.
TEST(SqliteStore, ScramKeySurvivesReopenAndIsKeyedBySalt) {
  TempDir dir;
  const std::string key(20, '\x07');
  const std::string salt("s\0alt", 5);  // salts are raw bytes
  {
    SqliteDatabase s_db(dir.file("state.db"));
    SqliteSessionStore s(s_db);
    SqliteScramCache s_scram(s_db);
    ASSERT_TRUE(s_db.open_status().ok());
    EXPECT_FALSE(s_scram.load_salted_password("me@example.test", salt, 4096));
    s_scram.save_salted_password("me@example.test", salt, 4096, key);
    ASSERT_TRUE(s.save("me@example.test", sample("iq-1")).ok());
  }
  SqliteDatabase s_db(dir.file("state.db"));
  SqliteSessionStore s(s_db);
  SqliteScramCache s_scram(s_db);
  EXPECT_EQ(s_scram.load_salted_password("me@example.test", salt, 4096), key);
  EXPECT_FALSE(s_scram.load_salted_password("me@example.test", salt, 10000));
  EXPECT_FALSE(s_scram.load_salted_password("me@example.test", "salt2", 4096));
  EXPECT_FALSE(s_scram.load_salted_password("other@example.test", salt, 4096));
  ASSERT_TRUE(s.erase("me@example.test").ok());  // the session record only
  EXPECT_EQ(s_scram.load_salted_password("me@example.test", salt, 4096), key);
  s_scram.erase_salted_password("me@example.test");
  EXPECT_FALSE(s_scram.load_salted_password("me@example.test", salt, 4096));
  ASSERT_TRUE(s.load("me@example.test").ok());
  // A key of the wrong size is not handed out.
  s_scram.save_salted_password("me@example.test", salt, 4096, "short");
  EXPECT_FALSE(s_scram.load_salted_password("me@example.test", salt, 4096));
}

TEST(SqliteStore, GarbageFileIsReportedCorruptNotCrash) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) f << "this is not a database ";
  }
  SqliteDatabase s_db(path);
  SqliteSessionStore s(s_db);
  LoadResult r = s.load("me@example.test");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt) << r.status().message();
  EXPECT_FALSE(record_of(r));
  EXPECT_FALSE(s.save("me@example.test", sample("iq-1")).ok());
}

void exec(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST(SqliteStore, TamperedPresenceRowFailsDigestCheck) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    SqliteDatabase s_db(path);
    SqliteSessionStore s(s_db);
    ASSERT_TRUE(s.save("me@example.test", sample("iq-1")).ok());
  }
  exec(path, "UPDATE rpsync_presence SET status = 'edited' WHERE jid = 'alice@example.test/phone'");
  SqliteDatabase s_db(path);
  SqliteSessionStore s(s_db);
  LoadResult r = s.load("me@example.test");
  EXPECT_EQ(r.status().code(), StatusCode::kCorrupt);
  EXPECT_FALSE(record_of(r));
}

TEST(SqliteStore, MissingPresenceRowFailsDigestCheck) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    SqliteDatabase s_db(path);
    SqliteSessionStore s(s_db);
    ASSERT_TRUE(s.save("me@example.test", sample("iq-1")).ok());
  }
  exec(path, "DELETE FROM rpsync_presence WHERE jid = 'bob@example.test/desk'");
  SqliteDatabase s_db(path);
  SqliteSessionStore s(s_db);
  EXPECT_EQ(s.load("me@example.test").status().code(), StatusCode::kCorrupt);
}

TEST(SqliteStore, OutOfRangeValuesAreCorrupt) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  {
    SqliteDatabase s_db(path);
    SqliteSessionStore s(s_db);
    ASSERT_TRUE(s.save("me@example.test", sample("iq-1")).ok());
  }
  exec(path, "UPDATE rpsync_presence SET priority = 1000");
  SqliteDatabase s_db(path);
  SqliteSessionStore s(s_db);
  EXPECT_EQ(s.load("me@example.test").status().code(), StatusCode::kCorrupt);
}

TEST(SqliteStore, UnwritableLocationIsAnIoError) {
  SqliteDatabase s_db("/nonexistent-dir-rpsync/state.db");
  SqliteSessionStore s(s_db);
  EXPECT_EQ(s_db.open_status().code(), StatusCode::kIoError);
  EXPECT_EQ(s.load("me@example.test").status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace rpsync::client

namespace rpsync::client {
namespace {

SavedSession big(const std::string& tag, int n) {
  SavedSession s = sample(tag);
  for (int i = 0; i < n; ++i) {
    proto::PresenceFields f;
    f.status = tag + " status " + std::to_string(i);
    s.state["contact" + std::to_string(i) + "@example.test/r"] = f;
  }
  return s;
}

// A process killed (SIGKILL) in the middle of saves leaves the old or the new record,
// never a mix and never an unreadable file.
TEST(SqliteStore, KillDuringSaveLeavesOldOrNewRecord) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  const SavedSession a = big("A", 2000);
  const SavedSession b = big("B", 1500);
  {
    SqliteDatabase s_db(path);
    SqliteSessionStore s(s_db);
    ASSERT_TRUE(s.save("me@example.test", a).ok());
  }
  for (int round = 0; round < 3; ++round) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      SqliteDatabase s_db(path);
      SqliteSessionStore s(s_db);
      for (int i = 0; i < 1000; ++i) (void)s.save("me@example.test", (i % 2) ? a : b);
      ::_exit(0);
    }
    ::usleep(static_cast<useconds_t>(150'000 + 70'000 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    SqliteDatabase s_db(path);
    SqliteSessionStore s(s_db);
    LoadResult r = s.load("me@example.test");
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE(record_of(r));
    EXPECT_TRUE(*record_of(r) == a || *record_of(r) == b);
  }
}

}  // namespace
}  // namespace rpsync::client
