// SPDX-License-Identifier: MIT
// Every way a stored key can fail ends in a full login with its reason, never in a wrong
// view: the component lost the key (store wiped: unknown-key), the component restarted
// from a store an older version wrote, after a change it cannot place before or after the
// key (continuity-lost), the key's lifetime
// passed (the client does not even send it). After the fallback the flood arrives, the
// view equals a fresh plain login's, and the session is enabled again, so the next
// reconnect syncs.
#include <sqlite3.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plugin/store/codec.h"
#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

// The component's store as a version without change history left it: its key moments carry
// no version (the rows it rebuilds a key's view from). Returns the sessions rewritten.
int forget_key_versions(const std::filesystem::path& db_path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return -1;
  auto text = [](sqlite3_stmt* q, int i) {
    const void* p = sqlite3_column_blob(q, i);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(q, i)))
             : std::string();
  };
  std::vector<std::vector<std::string>> rows;  // user, stream, resource, txns
  sqlite3_stmt* q = nullptr;
  sqlite3_prepare_v2(db, "SELECT user, stream, resource, txns FROM sessions", -1, &q, nullptr);
  while (sqlite3_step(q) == SQLITE_ROW)
    rows.push_back({text(q, 0), text(q, 1), text(q, 2), text(q, 3)});
  sqlite3_finalize(q);
  int n = 0;
  for (const auto& row : rows) {
    core::TxnRecord newest;
    std::optional<core::TxnRecord> previous;
    if (!store::decode_txns(row[3], newest, previous)) continue;
    newest.version.reset();
    if (previous) previous->version.reset();
    const std::string out = store::encode_txns(newest, previous);
    sqlite3_prepare_v2(
        db, "UPDATE sessions SET txns = ?1 WHERE user = ?2 AND stream = ?3 AND resource = ?4", -1,
        &q, nullptr);
    sqlite3_bind_blob(q, 1, out.data(), static_cast<int>(out.size()), SQLITE_STATIC);
    for (int i = 0; i < 3; ++i)
      sqlite3_bind_text(q, i + 2, row[static_cast<std::size_t>(i)].data(),
                        static_cast<int>(row[static_cast<std::size_t>(i)].size()), SQLITE_STATIC);
    if (sqlite3_step(q) == SQLITE_DONE) n += sqlite3_changes(db);
    sqlite3_finalize(q);
  }
  sqlite3_close(db);
  return n;
}

class StropheFallback : public StropheWorld {
 protected:
  // The reconnect after the failure: a full login reporting `reason` whose detail
  // contains `detail`, the flood, a view equal to a fresh login's, enabled again; then a
  // logout and a reconnect that syncs.
  void expect_full_login_then_sync(RpsyncClient& a, rpsync_strophe_reason_t reason,
                                   const std::string& detail) {
    const std::size_t enabled_before = a.reports().enabled.size();
    ASSERT_TRUE(a.login_until_online()) << events_of(a) << "\n" << component_log();
    const Reports& r = a.reports();
    EXPECT_TRUE(r.synced.empty()) << events_of(a);
    ASSERT_EQ(r.full_resyncs.size(), 2u) << events_of(a);
    EXPECT_EQ(r.full_resyncs[1].reason, reason) << events_of(a);
    EXPECT_NE(r.full_resyncs[1].detail.find(detail), std::string::npos) << events_of(a);
    EXPECT_EQ(r.presence_sent.back(), 0) << "a full login's presence is not marked";
    EXPECT_GE(a.session().contact_presences(), 1u) << "the flood must come";
    EXPECT_EQ(r.enabled.size(), enabled_before + 1) << events_of(a);
    expect_view_is_fresh_login(a);

    ASSERT_TRUE(a.logout());
    ASSERT_TRUE(bob->sends_presence(shows(Show::kChat, "back again")));
    settle(*bob);
    ASSERT_TRUE(a.login()) << events_of(a);
    ASSERT_EQ(r.synced.size(), 1u) << events_of(a) << "\n" << component_log();
    ASSERT_EQ(r.synced_changes[0].size(), 1u);
    EXPECT_EQ(r.synced_changes[0][0].fields, shows(Show::kChat, "back again"));
    expect_view_is_fresh_login(a);
  }
};

TEST_F(StropheFallback, ComponentLostTheKeyGivesUnknownKeyAndFullLogin) {
  auto a = enabled_alice();
  ASSERT_FALSE(HasFailure());
  auto& component = world->component();
  EXPECT_EQ(component.terminate(), 0) << component.log();
  std::filesystem::remove(component.store_path());
  std::string why;
  ASSERT_TRUE(world->start_component_again(&why)) << why;
  ASSERT_TRUE(bob->sends_presence(shows(Show::kXa, "while the keys were lost")));
  settle(*bob);
  expect_full_login_then_sync(*a, RPSYNC_STROPHE_KEY_REJECTED, "unknown-key");
}

// bob changes between alice's key and the stop, and the store is one a version without
// change history wrote: it keeps the view at the stop, not at the key's moment, so the
// restarted component cannot answer that key (with the history it would: a change before
// the stop no longer costs the key, scenario.Continuity.ChangesBefore*).
TEST_F(StropheFallback, ComponentRestartGivesContinuityLostAndFullLogin) {
  auto a = enabled_alice();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(bob->sends_presence(shows(Show::kDnd, "before the stop")));
  settle(*bob);
  auto& component = world->component();
  EXPECT_EQ(component.terminate(), 0) << component.log();
  ASSERT_GE(forget_key_versions(component.store_path()), 1);
  std::string why;
  ASSERT_TRUE(world->start_component_again(&why)) << why;
  settle(*bob);
  expect_full_login_then_sync(*a, RPSYNC_STROPHE_KEY_REJECTED, "continuity-lost");
}

}  // namespace
}  // namespace rpsync::test::strophe
