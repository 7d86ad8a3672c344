// SPDX-License-Identifier: MIT
// The application process restarts between two sessions: a new libstrophe context,
// connection and binding handle open the same SQLite state file. Key, presence snapshot
// and roster survive, so the reconnect syncs and the roster comes from the cache. An
// expired key is not sent (full login, reason key-expired); a tampered snapshot fails the
// integrity check on load (full login, reason store-error). Each time the view then
// equals a fresh plain login's.
#include <sqlite3.h>

#include "tests/client_strophe/e2e/strophe_world.h"

namespace rpsync::test::strophe {
namespace {

using proto::Show;
using scenario::shows;

class StropheRestart : public StropheWorld {
 protected:
  std::string state_file() const { return world->server().dir() + "/alice-state.db"; }
  // Runs `sql` on the state file as another program would (the binding is closed).
  void edit_state(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(state_file().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    const std::string message = error ? error : "";
    sqlite3_free(error);
    EXPECT_EQ(sqlite3_changes(db) > 0, true) << sql << " changed nothing";
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }
  // The first process: enables and logs out; the handle and connection are gone after.
  void first_process() {
    auto a = enabled_alice("laptop", state_file());
    ASSERT_FALSE(HasFailure());
  }
};

TEST_F(StropheRestart, NewProcessReopensTheStateFileAndSyncs) {
  first_process();
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(bob->sends_presence(shows(Show::kXa, "while restarting")));
  settle(*bob);

  auto a = alice("laptop", state_file());
  ASSERT_EQ(a->open_result(), XMPP_EOK);
  ASSERT_TRUE(a->login()) << events_of(*a);
  const Reports& r = a->reports();
  EXPECT_TRUE(r.full_resyncs.empty()) << events_of(*a);
  ASSERT_EQ(r.synced.size(), 1u) << events_of(*a) << "\n" << component_log();
  ASSERT_EQ(r.synced_changes[0].size(), 1u);
  EXPECT_EQ(r.synced_changes[0][0].jid, "bob@example.test/phone");
  EXPECT_EQ(r.synced_changes[0][0].fields, shows(Show::kXa, "while restarting"));
  EXPECT_EQ(r.presence_sent.back(), 1);
  a->session().pump([&] { return !r.rosters.empty(); }, Millis(3000));
  // The cached roster first; Prosody may push an item right after (from_cache = 0 then).
  ASSERT_EQ(r.roster_from_cache.at(0), 1) << "the roster survives the restart\n" << wire_of(*a);
  EXPECT_EQ(r.rosters[0], (std::vector<std::string>{"bob@example.test", "carol@example.test",
                                                    "dave@example.test"}));
  EXPECT_NE(a->session().find_wire(">> ", " ver="), -1) << "the roster get offers its version";
  expect_view_is_fresh_login(*a);
}

TEST_F(StropheRestart, ExpiredKeyIsNotSentAndGivesAFullLogin) {
  first_process();
  ASSERT_FALSE(HasFailure());
  edit_state("UPDATE rpsync_session SET expires_at = 1");

  auto a = alice("laptop", state_file());
  ASSERT_EQ(a->open_result(), XMPP_EOK);
  ASSERT_TRUE(a->login_until_online()) << events_of(*a);
  const Reports& r = a->reports();
  ASSERT_EQ(r.full_resyncs.size(), 1u) << events_of(*a);
  EXPECT_EQ(r.full_resyncs[0].reason, RPSYNC_STROPHE_KEY_EXPIRED) << events_of(*a);
  EXPECT_EQ(a->stats().syncs_sent, 0u) << "an expired key is not sent";
  EXPECT_EQ(a->session().find_wire(">> ", "<sync"), -1);
  EXPECT_EQ(r.enabled.size(), 1u) << events_of(*a);
  expect_view_is_fresh_login(*a);
}

TEST_F(StropheRestart, TamperedSnapshotFailsTheIntegrityCheck) {
  first_process();
  ASSERT_FALSE(HasFailure());
  edit_state("UPDATE rpsync_presence SET status = 'tampered'");

  auto a = alice("laptop", state_file());
  EXPECT_EQ(a->open_result(), XMPP_EOK) << "a corrupt record is not an error of the call";
  ASSERT_TRUE(a->login_until_online()) << events_of(*a);
  const Reports& r = a->reports();
  ASSERT_EQ(r.full_resyncs.size(), 1u) << events_of(*a);
  EXPECT_EQ(r.full_resyncs[0].reason, RPSYNC_STROPHE_STORE_ERROR) << events_of(*a);
  EXPECT_EQ(a->stats().syncs_sent, 0u);
  EXPECT_TRUE(r.synced.empty());
  expect_view_is_fresh_login(*a);
}

}  // namespace
}  // namespace rpsync::test::strophe
