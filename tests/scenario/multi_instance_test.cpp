// SPDX-License-Identifier: MIT
// Scenario 11: two rpsync-component instances, A and B, attached to one Prosody
// as two component JIDs (each privileged), sharing one real redis-server (AOF,
// appendfsync always) through the change feed. Prosody only: the harness's ejabberd
// config has one component name (ejabberd would load-balance two connections of it).
//
//   alice enables through A; her contacts change; she reconnects and syncs through B:
//     B answers the delta, and her model after it equals a fresh login
//   Redis stops: a request to either instance gets not-ready (wait) within a bounded
//     time; both still answer ping and disco; Redis starts again: enable and sync work
//     without restarting the components
//   an operator purges alice with `rpsync-component --purge-user`: her keys give
//     unknown-key at both instances and her rows are gone from Redis;
//     `--invalidate-keys` makes a later key fail with continuity-lost at both
//   Redis is killed (-9) and restarted: an acknowledged checkpoint is still in Redis, and
//     its key still syncs through the other instance
//   B is killed (-9) under a presence load and restarted: its view of alice equals A's
//   B loses its server connection while A observes: a key B gave before the outage syncs
//     at B afterwards with the exact delta, changes made during the outage included
//   B is restarted while A observes: a key B gave before (contacts unchanged meanwhile) is
//     taken again and syncs at B with the exact delta
#include <sys/wait.h>
#include <unistd.h>

#include "tests/harness/tcp_proxy.h"
#include "tests/harness/redis/redis_server.h"
#include "tests/scenario/world.h"

namespace rpsync::test::scenario {
namespace {

using proto::AppCondition;
using proto::Show;

constexpr const char* kA = "rpsync-a.example.test";
constexpr const char* kB = "rpsync-b.example.test";
const std::string kAlice = "alice@example.test";

// Runs rpsync-component as an operator would (admin commands); exit code and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_component_command(const std::vector<std::string>& args) {
  std::string cmd = RPSYNC_COMPONENT_BINARY;
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " 2>&1";
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class MultiInstance : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    redis = RedisServer::start({}, &why);
    if (!redis) {
      if (!RedisServer::find_executable()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    ProsodyOptions o;
    o.hosts = {"example.test"};
    o.component_jid = kA;
    prosody = ProsodyServer::create(o, &why);
    if (!prosody) {
      if (!ProsodyServer::find_executable()) GTEST_SKIP() << why;
      FAIL() << why;
    }
    ASSERT_TRUE(add_second_component(why)) << why;
    for (const char* u : {"alice", "carol", "dave", "erin", "probe"})
      prosody->add_user(u, "example.test", kPassword);
    for (const char* c : {"carol@example.test", "dave@example.test", "erin@example.test"}) {
      prosody->add_roster_item(kAlice, c, Subscription::kBoth);
      prosody->add_roster_item(c, kAlice, Subscription::kBoth);
    }
    ASSERT_TRUE(prosody->launch()) << prosody->log();
    a = start_instance(kA, "A");
    b = start_instance(kB, "B");
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(ready(*a, kA, std::chrono::seconds(30), &why)) << why;
    ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  }

  void TearDown() override {
    if (a && b && std::getenv("RPSYNC_SHOW_LOGS")) std::printf("%s\n", logs().c_str());
    a.reset();
    b.reset();
    for (const auto& d : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }

  // The harness writes one Component; B is a second one with the same privileges.
  bool add_second_component(std::string& why) {
    const auto cfg = std::filesystem::path(prosody->dir()) / "prosody.cfg.lua";
    std::stringstream text;
    text << std::ifstream(cfg).rdbuf();
    std::string c = text.str();
    const std::string grant =
        "[\"" + std::string(kA) + "\"] = { roster = \"get\"; presence = \"roster\"; }";
    const auto at = c.find(grant);
    if (at == std::string::npos) {
      why = "unexpected harness config:\n" + c;
      return false;
    }
    c.insert(at + grant.size(),
             std::string("; [\"") + kB + "\"] = { roster = \"get\"; presence = \"roster\"; }");
    c += std::string("Component \"") + kB + "\"\n  component_secret = \"s3cret\"\n" +
         "  modules_enabled = { \"privilege\" }\n";
    std::ofstream(cfg, std::ios::trunc) << c;
    return true;
  }

  // `port`: the server's component port, or a proxy's in front of it (0: the server's).
  std::unique_ptr<ComponentProcess> start_instance(const std::string& jid, const std::string& id,
                                                   std::uint16_t port = 0) {
    char tmpl[] = "/tmp/rpsync-multi-XXXXXX";
    if (!::mkdtemp(tmpl)) return nullptr;
    dirs.emplace_back(tmpl);
    ComponentSpec spec;
    spec.component_jid = jid;
    spec.extra_args = {"--store", redis->uri(0, "rpsync"), "--instance-id", id,
                       "--heartbeat-ttl-ms", "3000", "--server-software", "prosody",
                       // the tests poll; the limit is not what they are about
                       "--requests-per-minute", "100000"};
    auto p =
        std::make_unique<ComponentProcess>(tmpl, port ? port : prosody->component_port(), spec);
    std::string why;
    EXPECT_TRUE(p->start(&why)) << why;
    return p;
  }

  bool ready(ComponentProcess& c, const std::string& jid, std::chrono::milliseconds timeout,
             std::string* why) {
    return component_ready(prosody->c2s_port(), c, jid, timeout, why);
  }

  std::unique_ptr<Party> logs_in(const std::string& bare, const std::string& resource) {
    return scenario::logs_in(prosody->c2s_port(), bare, resource);
  }
  std::unique_ptr<Party> comes_online(const std::string& bare, const std::string& resource,
                                      const proto::PresenceFields& fields = {}) {
    return scenario::comes_online(prosody->c2s_port(), bare, resource, fields);
  }
  Flood fresh_full_login(const std::string& bare) {
    return scenario::fresh_full_login(prosody->c2s_port(), bare, "fresh-" + std::to_string(++fresh),
                                      Millis{0});
  }

  // Sends `payload()` as an IQ set until `done(answer)` or `timeout`; ids are prefix + a
  // number, the last one in until_id.
  template <class Done>
  Answer until(Party& p, const std::string& to, const std::string& prefix,
               const std::function<xml::Element()>& payload, Done done,
               std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Answer last;
    for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {
      until_id = prefix + std::to_string(i);
      last = p.sends_iq(to, "set", payload(), until_id, std::chrono::seconds(3));
      if (done(last)) return last;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return last;
  }

  // Waits (bounded) until `c`'s log holds `needle` at least `times` times.
  static bool log_shows(ComponentProcess& c, const std::string& needle, int times = 1,
                        std::chrono::seconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string log = c.log();
      int n = 0;
      for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
      if (n >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // `p` syncs with `key` through `component`, retried while it answers not-ready (Redis
  // coming back, bounded); the new key's last id is until_id.
  Answer syncs_when_ready(Party& p, const std::string& component, const proto::SyncKey& key,
                          const std::string& prefix) {
    return until(
        p, component, prefix,
        [&] {
          return proto::to_xml(proto::Sync{p.stream_id(), key});
        },
        [](const Answer& x) { return x.app() != AppCondition::kNotReady; },
        std::chrono::seconds(20));
  }

  std::string logs() { return "--- A ---\n" + a->log() + "\n--- B ---\n" + b->log(); }

  // What alice must be told after carol changed, dave/pc arrived and erin/laptop left.
  static void expect_carol_changed_dave_came_erin_left(const proto::Delta& delta) {
    EXPECT_EQ(delta.changed.size(), 1u) << describe(delta);
    EXPECT_EQ(delta.added.size(), 1u) << describe(delta);
    EXPECT_EQ(delta.unavailable, std::vector<std::string>{"erin@example.test/laptop"});
  }

  // alice logs in as alice/phone, sees `contacts` available resources (her model of them
  // goes to `model`), enables through `component` with id `id` and logs out. The key, or
  // one with an empty stream after a reported failure.
  proto::SyncKey alice_enables(const std::string& component, const std::string& id,
                               std::size_t contacts, proto::PresenceState& model) {
    auto first = logs_in(kAlice, "phone");
    if (!first) {
      ADD_FAILURE() << "alice cannot log in";
      return {};
    }
    Flood flood = first->sends_presence_and_collects_flood({}, Millis{0});
    EXPECT_TRUE(flood.complete);
    EXPECT_EQ(flood.state.size(), contacts) << describe(flood.state);
    model = flood.state;
    Answer enabled = first->sends_enable(component, id);
    EXPECT_TRUE(enabled.ok()) << enabled.describe() << logs();
    const proto::SyncKey key = enabled.ok() ? first->key(id) : proto::SyncKey{};
    first->closes();
    return key;
  }

  // alice logs in again as alice/phone (the session goes to `again`) and syncs `key`
  // through `component` with id "s1"; the delta, applied to `model`, must give a fresh
  // login's view. nullopt after a reported failure.
  std::optional<proto::Delta> alice_syncs(const std::string& component, const proto::SyncKey& key,
                                          proto::PresenceState& model,
                                          std::unique_ptr<Party>& again) {
    again = logs_in(kAlice, "phone");
    if (!again) {
      ADD_FAILURE() << "alice cannot log in again";
      return std::nullopt;
    }
    std::string why;
    auto delta = delta_of(again->sends_sync(component, "s1", key), &why);
    if (!delta) {
      ADD_FAILURE() << why << "\n" << logs();
      return std::nullopt;
    }
    EXPECT_TRUE(proto::apply(model, *delta)) << describe(model) << describe(*delta);
    EXPECT_EQ(proto::digest_of(model), delta->state);
    Flood fresh_login = fresh_full_login(kAlice);
    EXPECT_EQ(model, fresh_login.state) << describe(model) << "\n" << describe(fresh_login.state);
    return delta;
  }

  std::unique_ptr<RedisServer> redis;
  std::unique_ptr<ProsodyServer> prosody;
  std::unique_ptr<ComponentProcess> a, b;
  std::vector<std::string> dirs;
  int fresh = 0;
  std::string until_id;  // id of the last request until() sent
};

// (a) A key enabled at one instance syncs at the other.
TEST_F(MultiInstance, EnableThroughASyncThroughBGivesTheExactDelta) {
  const auto carol_before = shows(Show::kAway, "lunch");
  auto carol = comes_online("carol@example.test", "phone", carol_before);
  auto erin = comes_online("erin@example.test", "laptop");
  ASSERT_TRUE(carol && erin);

  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kA, "e1", 2, model);
  ASSERT_FALSE(key.stream.empty());
  // B adopts the session as answerable: its view equals alice's at e1. (A change landing
  // at B before the feed entry would make it unanswerable there: continuity-lost, the
  // documented limit, not what this scenario is about.)
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1")) << logs();

  // While alice is away: carol changes, dave arrives, erin leaves.
  auto carol_after = carol_before;
  carol_after.show = Show::kDnd;
  ASSERT_TRUE(carol->sends_presence(carol_after));
  auto dave = comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  ASSERT_TRUE(dave);
  erin->closes();
  ASSERT_TRUE(carol->settles() && dave->settles());

  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  expect_carol_changed_dave_came_erin_left(*delta);

  // The key the sync at B gave moves forward at A, once A applied the sync's feed entry
  // (a checkpoint reaching A before it would be refused: the documented routing limit).
  // Whether A could answer a sync on it depends on whether erin's unavailable, sent just
  // before, had reached A too when the entry did (a race of ~0.1 s the digests catch); the
  // checkpoint's digest shows A's view once it has.
  ASSERT_TRUE(log_shows(*a, "sessions.applied origin=B")) << logs();
  Answer checkpoint = until(
      *again, kA, "cp",
      [&] {
        return proto::to_xml(proto::Checkpoint{again->stream_id(), "s1"});
      },
      [](const Answer& x) { return x.app() != AppCondition::kOutOfOrder; },
      std::chrono::seconds(5));
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.describe() << logs();
  auto checkpointed = proto::parse_checkpointed(*checkpoint.payload);
  ASSERT_TRUE(checkpointed.ok());
  EXPECT_EQ(checkpointed->state, proto::digest_of(model)) << "A's view equals alice's model";
}

// alice's session through `component`: logs in, sees her contacts, enables with id `id`.
// Returns the key (or a key with an empty stream on failure).
proto::SyncKey enabled_session(Party& alice, const std::string& component, const std::string& id) {
  Flood f = alice.sends_presence_and_collects_flood({}, Millis{0});
  EXPECT_TRUE(f.complete);
  Answer e = alice.sends_enable(component, id);
  EXPECT_TRUE(e.ok()) << e.describe();
  return e.ok() ? alice.key(id) : proto::SyncKey{};
}

xml::Element ping() {
  return xml::Element("ping", std::string(ns::kPing));
}

// (b) Redis down: clean not-ready at both, XMPP connections kept, recovery on their own.
TEST_F(MultiInstance, RedisDownMeansNotReadyAtBothThenRecoveryWithoutRestart) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway));
  ASSERT_TRUE(carol);
  auto first = logs_in(kAlice, "phone");
  ASSERT_TRUE(first);
  const proto::SyncKey key = enabled_session(*first, kA, "e1");
  ASSERT_FALSE(key.stream.empty()) << logs();
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1")) << logs();
  first->closes();

  redis->stop();
  auto again = logs_in(kAlice, "phone");
  ASSERT_TRUE(again);
  auto probe = logs_in("probe@example.test", "watch");
  ASSERT_TRUE(probe);
  for (const char* c : {kA, kB}) {
    const auto asked = std::chrono::steady_clock::now();
    Answer refused = until(
        *again, c, std::string("down-") + c + "-",
        [&] {
          return proto::to_xml(proto::Sync{again->stream_id(), key});
        },
        [](const Answer& x) { return x.app() == AppCondition::kNotReady; },
        std::chrono::seconds(10));
    EXPECT_TRUE(is_error(refused, proto::ErrorType::kWait, proto::Condition::kServiceUnavailable))
        << c << ": " << refused.describe() << logs();
    EXPECT_EQ(refused.app(), AppCondition::kNotReady) << c;
    EXPECT_LT(std::chrono::steady_clock::now() - asked, std::chrono::seconds(10));
    // Still attached to the server: ping and disco answered through it.
    EXPECT_TRUE(probe->sends_iq(c, "get", ping(), std::string("ping-") + c).ok()) << c;
    EXPECT_TRUE(probe
                    ->sends_iq(c, "get", xml::Element("query", std::string(ns::kDiscoInfo)),
                               std::string("info-") + c)
                    .ok())
        << c;
  }
  // Something changes meanwhile: observed, kept, written when Redis is back.
  auto carol_after = shows(Show::kDnd, "outage");
  ASSERT_TRUE(carol->sends_presence(carol_after));
  ASSERT_TRUE(carol->settles());

  ASSERT_TRUE(redis->restart()) << redis->log();
  // The key from before the outage syncs through B: no restart, no gap.
  Answer answer = syncs_when_ready(*again, kB, key, "up-");
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << logs();
  ASSERT_EQ(delta->changed.size(), 1u) << describe(*delta);
  EXPECT_EQ(delta->changed[0].jid, "carol@example.test/phone");
  // And the new key taken at B moves forward at A, once A's feed reader (back from its
  // backoff) has applied B's session.
  const std::string synced_id = until_id;
  ASSERT_TRUE(log_shows(*a, "sessions.applied origin=B")) << logs();
  Answer checkpoint = until(
      *again, kA, "cp-",
      [&] {
        return proto::to_xml(proto::Checkpoint{again->stream_id(), synced_id});
      },
      // A finds its store back on its own tick (within about a second)
      [](const Answer& x) {
        return x.app() != AppCondition::kOutOfOrder && x.app() != AppCondition::kNotReady;
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(checkpoint.ok()) << checkpoint.describe() << logs();
  EXPECT_TRUE(a->alive() && b->alive());
  for (auto* c : {a.get(), b.get()})
    EXPECT_EQ(c->log().find("service: gap"), std::string::npos)
        << "the XMPP connection was never lost\n"
        << c->log();
}

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

// (d) Redis killed (-9) and restarted from its AOF: an acknowledged checkpoint survived,
// and its key syncs through the other instance.
TEST_F(MultiInstance, AcknowledgedCheckpointSurvivesAKilledRedis) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kXa, "zzz"));
  ASSERT_TRUE(carol);
  auto first = logs_in(kAlice, "phone");
  ASSERT_TRUE(first);
  ASSERT_FALSE(enabled_session(*first, kA, "e1").stream.empty()) << logs();
  Answer c1 = first->sends_checkpoint(kA, "c1", "e1");
  ASSERT_TRUE(c1.ok()) << c1.describe();
  const proto::SyncKey key = first->key("c1");
  ASSERT_TRUE(log_shows(*b, "sessions.applied origin=A sessions=1 answerable=1", 2)) << logs();
  first->closes();

  redis->kill();
  ASSERT_TRUE(redis->restart()) << redis->log();
  auto row = redis->command({"HGETALL", "rpsync:{u:" + kAlice + "}:sess"});
  ASSERT_TRUE(row && !row->error);
  std::string stored;
  for (const auto& e : row->elements) stored += e + " ";
  EXPECT_NE(stored.find("c1"), std::string::npos) << "the checkpoint is in the AOF: " << stored;

  auto carol_after = shows(Show::kChat, "awake");
  ASSERT_TRUE(carol->sends_presence(carol_after));
  ASSERT_TRUE(carol->settles());
  auto again = logs_in(kAlice, "phone");
  ASSERT_TRUE(again);
  Answer answer = syncs_when_ready(*again, kB, key, "s-");
  std::string why;
  auto delta = delta_of(answer, &why);
  ASSERT_TRUE(delta) << why << "\n" << logs();
  ASSERT_EQ(delta->changed.size(), 1u) << describe(*delta);
  EXPECT_EQ(delta->changed[0].jid, "carol@example.test/phone");
  for (auto* c : {a.get(), b.get()})
    EXPECT_EQ(c->log().find("feed: gap"), std::string::npos)
        << "the feed lost nothing with the AOF\n"
        << c->log();
}

// (e) B is killed (-9) while contacts keep changing, and started again: once ready, its
// view of alice (an enable's count and digest) equals A's and a fresh login's.
TEST_F(MultiInstance, InstanceKilledUnderPresenceLoadComesBackWithThePeersView) {
  std::vector<std::unique_ptr<Party>> contacts;
  for (const char* c : {"carol@example.test", "dave@example.test", "erin@example.test"})
    contacts.push_back(comes_online(c, "r1"));
  for (const auto& c : contacts) ASSERT_TRUE(c);
  std::size_t sent = 0;
  for (int i = 0; i < 90; ++i) {
    auto fields = shows(i % 2 ? Show::kAway : Show::kDnd, "load " + std::to_string(i));
    ASSERT_TRUE(contacts[static_cast<std::size_t>(i) % contacts.size()]->sends_presence(fields));
    ++sent;
    if (i == 30) b->kill9();
    if (i == 60) {
      std::string why;
      ASSERT_TRUE(b->start(&why)) << why;
    }
    if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  contacts[1]->closes();  // and one leaves for good
  for (std::size_t i : {0u, 2u}) ASSERT_TRUE(contacts[i]->settles());
  std::string why;
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;

  auto phone = logs_in(kAlice, "phone");
  auto laptop = logs_in(kAlice, "laptop");
  ASSERT_TRUE(phone && laptop);
  Flood seen = phone->sends_presence_and_collects_flood({}, Millis{0});
  ASSERT_TRUE(seen.complete);
  ASSERT_EQ(seen.state.size(), 2u) << describe(seen.state);
  Answer at_a = phone->sends_enable(kA, "ea");
  Answer at_b = laptop->sends_enable(kB, "eb");
  ASSERT_TRUE(at_a.ok() && at_b.ok()) << at_a.describe() << " / " << at_b.describe() << logs();
  auto view_a = proto::parse_enabled(*at_a.payload);
  auto view_b = proto::parse_enabled(*at_b.payload);
  ASSERT_TRUE(view_a.ok() && view_b.ok());
  EXPECT_EQ(view_a->state, proto::digest_of(seen.state)) << "A's view is what alice sees";
  EXPECT_EQ(view_b->state, view_a->state) << "B's view after the crash equals A's\n" << logs();
  std::printf(
      "[scenario prosody] 11 multi-instance: %zu presence changes, B killed at 31 and "
      "restarted at 61\n",
      sent);
}

// (f) B's own gap, covered by A: B's server connection is cut (a proxy between them) while
// contacts change; A observes throughout, so the group kept its continuity and alice's key
// from B, taken before the cut, still syncs at B with the exact delta.
TEST_F(MultiInstance, KeyOutlivesItsInstancesDisconnectWhenThePeerObservedThroughout) {
  std::string why;
  auto proxy = TcpProxy::start(prosody->component_port(), &why);
  ASSERT_TRUE(proxy) << why;
  b.reset();
  b = start_instance(kB, "B", proxy->port());
  ASSERT_TRUE(b && ready(*b, kB, std::chrono::seconds(30), &why)) << why;

  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway, "lunch"));
  auto erin = comes_online("erin@example.test", "laptop");
  ASSERT_TRUE(carol && erin);
  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kB, "e1", 2, model);
  ASSERT_FALSE(key.stream.empty());

  proxy->cut();
  ASSERT_TRUE(log_shows(*b, "not-ready until group continuity is decided")) << logs();
  // While B is cut off: carol changes, dave arrives, erin leaves. A sees it all.
  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "meeting")));
  auto dave = comes_online("dave@example.test", "pc", shows(Show::kChat, "hi"));
  ASSERT_TRUE(dave);
  erin->closes();
  ASSERT_TRUE(carol->settles() && dave->settles());
  std::this_thread::sleep_for(std::chrono::seconds(2));  // A commits what it saw
  proxy->resume();

  // Reconnect (backoff after the refused attempts), resync, decision: well within 40 s.
  ASSERT_TRUE(log_shows(*b, "own_gap.bridged", 1, std::chrono::seconds(40))) << logs();
  EXPECT_EQ(b->log().find("own_gap.lost"), std::string::npos) << logs();
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  expect_carol_changed_dave_came_erin_left(*delta);
  EXPECT_GE(proxy->connections(), 2u) << "B really reconnected";
}

// (g) B restarted while A observes: the restore invalidates B's keys, but the start's gap is
// covered by A, so alice's key from B (her contacts unchanged meanwhile) is taken again and
// syncs at B with the exact delta of what changed after the restart.
TEST_F(MultiInstance, KeyOutlivesItsInstancesRestartWhenThePeerObservedThroughout) {
  auto carol = comes_online("carol@example.test", "phone", shows(Show::kAway, "lunch"));
  ASSERT_TRUE(carol);
  proto::PresenceState model;
  const proto::SyncKey key = alice_enables(kB, "e1", 1, model);
  ASSERT_FALSE(key.stream.empty());

  EXPECT_EQ(b->terminate(), 0) << logs();
  std::string why;
  ASSERT_TRUE(b->start(&why)) << why;
  ASSERT_TRUE(
      log_shows(*b, "own_gap.bridged gap=restart keys_taken_again=1", 1, std::chrono::seconds(30)))
      << logs();
  ASSERT_TRUE(ready(*b, kB, std::chrono::seconds(30), &why)) << why;
  ASSERT_TRUE(carol->sends_presence(shows(Show::kDnd, "meeting")));
  ASSERT_TRUE(carol->settles());

  std::unique_ptr<Party> again;
  auto delta = alice_syncs(kB, key, model, again);
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->changed.size(), 1u) << describe(*delta);
}

}  // namespace
}  // namespace rpsync::test::scenario
