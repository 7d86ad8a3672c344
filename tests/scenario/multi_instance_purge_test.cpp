// SPDX-License-Identifier: MIT
// Scenario 11 (c), multi-instance (fixture in multi_instance.h): an operator purges alice
// with `rpsync-component --purge-user`: her keys give unknown-key at both instances and
// her rows are gone from Redis; `--invalidate-keys` makes a later key fail with
// continuity-lost at both.
#include "tests/scenario/multi_instance.h"

namespace rpsync::test::scenario::multi {
namespace {

// (c) An operator's purge reaches every instance, and Redis forgets the user's rows.
TEST_F(MultiInstance, PurgeAndInvalidateByCommandReachBothInstances) {
  auto carol = comes_online("carol@example.test", "phone");
  ASSERT_TRUE(carol);
  auto phone = logs_in(kAlice, "phone");
  auto laptop = logs_in(kAlice, "laptop");
  ASSERT_TRUE(phone && laptop);
  const proto::SyncKey phone_key = enabled_session(*phone, kA, "p1");
  const proto::SyncKey laptop_key = enabled_session(*laptop, kA, "l1");
  ASSERT_FALSE(phone_key.stream.empty() || laptop_key.stream.empty()) << logs();
  phone->closes();
  laptop->closes();
  // B holds alice's keys: the laptop's syncs there (and leaves a new key at B).
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1", 2)) << logs();
  auto laptop2 = logs_in(kAlice, "laptop");
  ASSERT_TRUE(laptop2);
  std::string why;
  ASSERT_TRUE(delta_of(laptop2->sends_sync(kB, "l2", laptop_key), &why)) << why << logs();
  const proto::SyncKey laptop2_key = laptop2->key("l2");
  laptop2->closes();
  const std::string sessions = "rpsync:{u:" + kAlice + "}:sess";
  auto before = redis->command({"HLEN", sessions});
  ASSERT_TRUE(before && !before->error);
  EXPECT_GE(before->integer, 2) << "alice's sessions are rows in Redis";

  const CommandResult purged = run_component_command(
      {"--store", redis->uri(0, "rpsync"), "--instance-id", "admin", "--purge-user", kAlice});
  ASSERT_EQ(purged.exit_code, 0) << purged.output;
  EXPECT_NE(purged.output.find("published purge-user alice@example.test"), std::string::npos)
      << purged.output;
  auto after = redis->command({"EXISTS", sessions});
  ASSERT_TRUE(after && !after->error);
  EXPECT_EQ(after->integer, 0) << "alice's session rows are gone from Redis";

  for (auto* c : {a.get(), b.get()})
    ASSERT_TRUE(log_shows(*c, "feed: admin.applied kind=purge-user")) << c->log();
  auto back = logs_in(kAlice, "phone");
  ASSERT_TRUE(back);
  int n = 0;
  for (const char* c : {kA, kB}) {
    for (const auto& key : {phone_key, laptop2_key}) {
      Answer refused = back->sends_sync(c, "x" + std::to_string(++n), key);
      EXPECT_TRUE(is_error(refused, AppCondition::kUnknownKey))
          << c << " " << key.resource << ": " << refused.describe() << logs();
    }
  }
  back->closes();

  // invalidate-keys: keys taken after the purge, one at each instance, fail with
  // continuity-lost at the other one.
  auto p2 = logs_in(kAlice, "phone");
  auto l2 = logs_in(kAlice, "laptop");
  ASSERT_TRUE(p2 && l2);
  const proto::SyncKey at_a = enabled_session(*p2, kA, "f1");
  const proto::SyncKey at_b = enabled_session(*l2, kB, "f2");
  ASSERT_FALSE(at_a.stream.empty() || at_b.stream.empty()) << logs();
  p2->closes();
  l2->closes();
  const CommandResult invalidated = run_component_command(
      {"--store", redis->uri(0, "rpsync"), "--instance-id", "admin", "--invalidate-keys", kAlice});
  ASSERT_EQ(invalidated.exit_code, 0) << invalidated.output;
  for (auto* c : {a.get(), b.get()})
    ASSERT_TRUE(log_shows(*c, "feed: admin.applied kind=invalidate-keys")) << c->log();
  auto third = logs_in(kAlice, "phone");
  ASSERT_TRUE(third);
  Answer at_b_for_a = third->sends_sync(kB, "i1", at_a);
  EXPECT_TRUE(is_error(at_b_for_a, AppCondition::kContinuityLost))
      << at_b_for_a.describe() << logs();
  Answer at_a_for_b = third->sends_sync(kA, "i2", at_b);
  EXPECT_TRUE(is_error(at_a_for_b, AppCondition::kContinuityLost))
      << at_a_for_b.describe() << logs();

  // Redis unreachable: the command says so and fails.
  redis->stop();
  const CommandResult down = run_component_command(
      {"--store", redis->uri(0, "rpsync"), "--instance-id", "admin", "--invalidate-keys", "*"});
  EXPECT_EQ(down.exit_code, 1) << down.output;
  EXPECT_NE(down.output.find("unreachable"), std::string::npos) << down.output;
}

}  // namespace
}  // namespace rpsync::test::scenario::multi
