// SPDX-License-Identifier: MIT
// Scenario 9d: a user with 20,000 contacts, on Prosody and on ejabberd (which answers
// the privileged roster get in full every time: no roster versioning by default). The
// privileged roster result the component fetches for every request is ~1 MB on the
// component stream; it is held to the IQ-result bound (64 MiB by default, spec "Stanzas
// the Component Does Not Read"), not to the stanza bound, so enable and sync are answered
// (not not-ready after the roster timeout).
//
//   alice's roster: carol (online, away) + 20,000 roster-only contacts (large_roster.h)
//   alice enables (timed), carol changes, alice reconnects and syncs (timed)
//   -> the delta is carol's change; both answers well within the 10 s roster timeout
#include "tests/scenario/large_roster.h"

#include <chrono>

namespace rpsync::test::scenario {
namespace {

using proto::Show;
using Clock = std::chrono::steady_clock;

constexpr int kContacts = 20000;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

template <class Server>
class LargeRoster : public Scenario<Server> {};
TYPED_TEST_SUITE(LargeRoster, Servers, ServerNames);

TYPED_TEST(LargeRoster, TwentyThousandContactsEnableAndSync) {
  const std::string alice = "alice@example.test";
  RPSYNC_SCENARIO_START(large_roster_spec(alice, {"carol@example.test"}));
  // alice has not logged in yet: Prosody reads her roster file on her first request.
  std::string added;
  ASSERT_TRUE(add_offline_contacts(this->world->server(), alice,
                                   numbered_contacts(kContacts, "example.test"), &added))
      << added;

  auto carol = this->comes_online("carol@example.test", "phone", shows(Show::kAway, "tea"));
  ASSERT_TRUE(carol);
  auto a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  auto t0 = Clock::now();
  Answer enabled = a->sends_enable(this->component(), "e1");
  const double enable_ms = ms_since(t0);
  ASSERT_TRUE(enabled.ok()) << enabled.describe() << "\n" << this->world->component().log();
  const proto::SyncKey key = a->key("e1");
  a->closes();

  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "busy")));
  ASSERT_TRUE(carol->settles());

  a = this->logs_in(alice, "phone");
  ASSERT_TRUE(a);
  t0 = Clock::now();
  Answer synced = a->sends_sync(this->component(), "s1", key);
  const double sync_ms = ms_since(t0);
  std::string why;
  auto delta = delta_of(synced, &why);
  ASSERT_TRUE(delta) << why << "\n" << this->world->component().log();
  ASSERT_EQ(delta->changed.size(), 1u) << describe(*delta);
  EXPECT_EQ(delta->changed[0].jid, "carol@example.test/phone");
  EXPECT_EQ(delta->items(), 1u);
  EXPECT_LT(enable_ms, 10000.0);
  EXPECT_LT(sync_ms, 10000.0);
  this->report("9d large roster", std::to_string(kContacts + 1) + " contacts: enable " +
                                      std::to_string(static_cast<int>(enable_ms)) + " ms, sync " +
                                      std::to_string(static_cast<int>(sync_ms)) + " ms (" +
                                      std::to_string(synced.bytes) + " bytes answer)");
}

}  // namespace
}  // namespace rpsync::test::scenario
