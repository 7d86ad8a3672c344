// SPDX-License-Identifier: MIT
// The Redis backend beyond the shared contract suite: durability across kill -9 of Redis
// (AOF, appendfsync always), a Redis outage answered with kUnavailable (not-ready to a
// client) and survived by the same Store object, the Cluster-ready key layout, URI
// options, and measured write+flush figures next to SQLite on the same machine. Every
// test runs a real redis-server (tests/harness/redis) on a free loopback port.
#include "plugin/store/redis_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "protocol/error.h"
#include "tests/harness/redis/redis_server.h"
#include "tests/harness/util.h"
#include "tests/plugin/store/backends.h"

namespace rpsync::store::testing {
namespace {

std::unique_ptr<test::RedisServer> start_redis(test::RedisOptions o = {}) {
  std::string why;
  auto r = test::RedisServer::start(std::move(o), &why);
  if (!r) ADD_FAILURE() << why;
  return r;
}

#define REQUIRE_REDIS_SERVER()                                  \
  do {                                                          \
    if (!test::RedisServer::find_executable())                  \
      GTEST_SKIP() << "redis-server is not installed (apt-get " \
                      "install redis-server)";                  \
  } while (false)

std::unique_ptr<Store> open_or_fail(const std::string& uri) {
  auto s = open_store(uri);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.status().message());
  return s.ok() ? std::move(s.value()) : nullptr;
}

core::PutResource res(const std::string& jid, int prio) {
  proto::PresenceFields f;
  f.priority = static_cast<std::int8_t>(prio % 100);
  f.status = "s" + std::to_string(prio);
  return core::PutResource{jid, f};
}

TEST(RedisUri, ParsesOptionsAndRefusesWhatItCannotDo) {
  auto t = parse_redis_uri("redis://127.0.0.1:6380/3?password=p%w&prefix=x-1&timeout_ms=250");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, 6380);
  EXPECT_EQ(t->db, 3);
  EXPECT_EQ(t->password, "p%w");
  EXPECT_EQ(t->prefix, "x-1");
  EXPECT_EQ(t->timeout_ms, 250);
  auto v6 = parse_redis_uri("redis://[::1]:6379");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->db, 0);
  for (const char* bad :
       {"redis://host", "redis://:1/0", "redis://h:0/0", "redis://h:99999", "redis://h:1/x",
        "redis://h:1/0?prefix=a*b", "redis://h:1/0?bogus=1", "redis://h:1/0?tls=1"}) {
    auto r = parse_redis_uri(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(proto::to_stanza_error(r.status()).app, proto::AppCondition::kNotReady) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(r.status().message().empty());
  }
  EXPECT_NE(parse_redis_uri("redis://h:1/0?tls=1").status().message().find("TLS"),
            std::string::npos);
  auto leaky = parse_redis_uri("redis://h:1/x?password=hunter2");
  ASSERT_FALSE(leaky.ok());
  EXPECT_EQ(leaky.status().message().find("hunter2"), std::string::npos)
      << leaky.status().message();
}

TEST(RedisStore, OpenFailsClearlyWhenNothingListens) {
  auto s = open_store("redis://127.0.0.1:" + std::to_string(test::free_port()) + "/0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(proto::to_stanza_error(s.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("unreachable"), std::string::npos) << s.status().message();
}

TEST(RedisStore, PasswordAndDatabaseAreUsed) {
  REQUIRE_REDIS_SERVER();
  test::RedisOptions o;
  o.password = "sekrit";
  auto redis = start_redis(o);
  ASSERT_TRUE(redis);
  const std::string no_pw = "redis://127.0.0.1:" + std::to_string(redis->port()) + "/5";
  auto denied = open_store(no_pw);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(proto::to_stanza_error(denied.status()).app, proto::AppCondition::kNotReady);
  EXPECT_NE(denied.status().message().find("NOAUTH"), std::string::npos)
      << denied.status().message();
  auto s = open_or_fail(no_pw + "?password=sekrit");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->write({core::PutEpoch{7}}).ok());
  ASSERT_TRUE(s->flush().ok());
  auto in5 = redis->command({"EVAL", "redis.call('SELECT', 5) return redis.call('GET', KEYS[1])",
                             "1", "rpsync:{meta}:epoch"});
  ASSERT_TRUE(in5);
  EXPECT_EQ(in5->str, "7");
  auto in0 = redis->command({"EXISTS", "rpsync:{meta}:epoch"});
  ASSERT_TRUE(in0);
  EXPECT_EQ(in0->integer, 0);  // database 0 untouched
}

// kill -9 of Redis after flush(): everything flushed is in the AOF and comes back.
TEST(RedisStore, FlushedDataSurvivesKillNineWithAof) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  auto s = open_or_fail(redis->uri());
  ASSERT_TRUE(s);
  core::SessionRecord sess{
      "alice@x", "s1", "phone", {"c2", 3, -17, {}}, core::TxnRecord{"c1", 2, 9, {}}};
  core::Batch b;
  for (int i = 0; i < 500; ++i) b.push_back(res("c" + std::to_string(i) + "@x/r", i));
  b.push_back(core::PutRoster{"alice@x", {"c1@x", "c2@x"}});
  b.push_back(core::PutSession{sess});
  b.push_back(core::PutEpoch{4});
  ASSERT_TRUE(s->write(b).ok());
  ASSERT_TRUE(s->flush().ok());
  redis->kill();
  ASSERT_TRUE(redis->restart()) << redis->log();
  auto img = open_or_fail(redis->uri())->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  EXPECT_EQ(img->epoch, 4u);
  ASSERT_EQ(img->resources.size(), 500u);
  std::map<std::string, proto::PresenceFields> got;
  for (const auto& r : img->resources) got[r.jid] = r.fields;
  for (int i = 0; i < 500; ++i)
    EXPECT_EQ(got["c" + std::to_string(i) + "@x/r"],
              res("c" + std::to_string(i) + "@x/r", i).fields);
  ASSERT_EQ(img->rosters.size(), 1u);
  EXPECT_EQ(img->rosters[0], (core::RosterRecord{"alice@x", {"c1@x", "c2@x"}}));
  ASSERT_EQ(img->sessions.size(), 1u);
  EXPECT_EQ(img->sessions[0], sess);

  // load_presence(): the same presence rows, nothing else.
  auto redis_store = RedisStore::open_redis(parse_redis_uri(redis->uri()).value(), {});
  ASSERT_TRUE(redis_store.ok());
  auto rows = (*redis_store)->load_presence();
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->epoch, 0u);
  EXPECT_TRUE(rows->rosters.empty());
  EXPECT_TRUE(rows->sessions.empty());
  ASSERT_EQ(rows->resources.size(), 500u);
  std::map<std::string, proto::PresenceFields> again;
  for (const auto& r : rows->resources) again[r.jid] = r.fields;
  EXPECT_EQ(again, got);
}

// A writer flushes step after step while Redis is SIGKILLed at a different moment each
// round. After the restart the store holds every acknowledged step and is a prefix cut at
// a commit boundary: steps 0..k-1 present, the roster names step k-1 (both were in one
// MULTI), nothing after.
TEST(RedisStore, KillNineDuringFlushesKeepsAcknowledgedPrefix) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  int base = 0;
  for (int round = 0; round < 4; ++round) {
    auto s = open_or_fail(redis->uri());
    ASSERT_TRUE(s);
    std::atomic<int> acked{base};
    std::atomic<bool> failed{false};
    std::thread writer([&] {
      for (int i = base; i < base + 1000000; ++i) {
        core::Batch b{res("w@x/" + std::to_string(i), i),
                      core::PutRoster{"w@x", {"step" + std::to_string(i) + "@x"}}};
        if (!s->write(b).ok() || !s->flush().ok()) {
          failed = true;
          return;
        }
        acked = i + 1;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 37 * round));
    redis->kill();
    writer.join();
    ASSERT_TRUE(failed.load()) << "the writer did not notice Redis going away";
    ASSERT_TRUE(redis->restart()) << redis->log();
    auto img = open_or_fail(redis->uri())->load();
    ASSERT_TRUE(img.ok()) << img.status().message();
    std::set<int> steps;
    for (const auto& r : img->resources) steps.insert(std::stoi(r.jid.substr(4)));
    ASSERT_FALSE(steps.empty());
    const int k = *steps.rbegin() + 1;
    EXPECT_EQ(steps.size(), static_cast<std::size_t>(k)) << "a hole: not a prefix";
    EXPECT_GE(k, acked.load()) << "an acknowledged step was lost";
    EXPECT_LE(k, acked.load() + 1) << "more than the one step in flight";
    ASSERT_EQ(img->rosters.size(), 1u);
    EXPECT_EQ(img->rosters[0].contacts,
              std::vector<std::string>{"step" + std::to_string(k - 1) + "@x"});
    std::printf("round %d: killed after %d acknowledged steps, %d recovered\n", round,
                acked.load() - base, k - base);
    base = k;
  }
}

// The component process is SIGKILLed mid-stream (a MULTI may be half sent): Redis discards
// an unfinished transaction with the connection, so the store is still a prefix holding
// every step the child acknowledged (after flush) through a pipe.
TEST(RedisStore, KilledWriterProcessLeavesAcknowledgedPrefix) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  int base = 0;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const std::string uri = redis->uri();
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      StoreOptions o;
      o.batch_records = 1 + static_cast<std::size_t>(round) * 7;  // automatic commits too
      auto opened = open_store(uri, o);
      if (!opened.ok()) ::_exit(2);
      auto& s = *opened.value();
      for (int i = base; i < base + 1000000; ++i) {
        // Wide batches so that a kill often lands inside one MULTI.
        core::Batch b;
        for (int k = 0; k < 50; ++k)
          b.push_back(res("p" + std::to_string(k) + "@x/" + std::to_string(i), i));
        b.push_back(core::PutRoster{"w@x", {"step" + std::to_string(i) + "@x"}});
        if (!s.write(b).ok() || !s.flush().ok()) ::_exit(3);
        if (::write(fds[1], &i, sizeof i) != sizeof i) ::_exit(4);
      }
      ::_exit(0);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + 41 * round));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    int acked = base - 1;
    for (int v = 0; ::read(fds[0], &v, sizeof v) == sizeof v;) acked = v;
    ::close(fds[0]);
    auto img = open_or_fail(uri)->load();
    ASSERT_TRUE(img.ok()) << img.status().message();
    ASSERT_EQ(img->rosters.size(), 1u);
    const std::string& last = img->rosters[0].contacts.at(0);
    const int k = std::stoi(last.substr(4));  // "stepN@x"
    EXPECT_GE(k, acked) << "an acknowledged step was lost";
    std::map<int, int> per_step;
    for (const auto& r : img->resources) ++per_step[std::stoi(r.jid.substr(r.jid.find('/') + 1))];
    EXPECT_EQ(per_step.size(), static_cast<std::size_t>(k + 1)) << "not a prefix";
    for (const auto& [step, n] : per_step) {
      EXPECT_EQ(n, 50) << "torn batch at step " << step;
      EXPECT_LE(step, k);
    }
    std::printf("round %d: writer killed after %d acknowledged steps, %d in the store\n", round,
                acked + 1 - base, k + 1 - base);
    base = k + 1;
  }
}

// Redis stops: write, flush and load fail (not-ready to a client) saying so; nothing buffered is
// lost, and once Redis is back the very same Store object works again.
TEST(RedisStore, OutageIsNotReadyAndTheSameStoreRecovers) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  auto s = open_or_fail(redis->uri());
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->write({res("a@x/1", 1)}).ok());
  ASSERT_TRUE(s->flush().ok());
  redis->kill();

  auto w = s->write({res("a@x/2", 2)});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(proto::to_stanza_error(w).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(w.code(), StatusCode::kUnavailable);
  EXPECT_NE(w.message().find("redis 127.0.0.1:" + std::to_string(redis->port())), std::string::npos)
      << w.message();
  EXPECT_NE(w.message().find("unreachable"), std::string::npos) << w.message();
  auto f = s->flush();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(proto::to_stanza_error(f).app, proto::AppCondition::kNotReady);
  auto l = s->load();
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(proto::to_stanza_error(l.status()).app, proto::AppCondition::kNotReady);
  std::printf("while down: %s\n", f.message().c_str());

  ASSERT_TRUE(redis->restart()) << redis->log();
  ASSERT_TRUE(s->write({res("a@x/3", 3)}).ok());
  auto f2 = s->flush();
  ASSERT_TRUE(f2.ok()) << f2.message();
  auto img = s->load();
  ASSERT_TRUE(img.ok()) << img.status().message();
  std::set<std::string> jids;
  for (const auto& r : img->resources) jids.insert(r.jid);
  EXPECT_EQ(jids, (std::set<std::string>{"a@x/1", "a@x/2", "a@x/3"}));

  // A clean restart while the connection is idle: the next call reconnects silently.
  redis->stop();
  ASSERT_TRUE(redis->restart()) << redis->log();
  auto again = s->load();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->resources.size(), 3u);
}

// A hung Redis (SIGSTOP): flush gives up after timeout_ms with kTimeout instead of
// blocking forever, and after the server resumes the same Store commits what it holds.
// The abandoned connection's MULTI (still in the frozen server's input buffer) must not
// land after the re-sent commit: the final value is the last one written.
TEST(RedisStore, HungServerTimesOutAndLaterWritesWin) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  auto s = open_or_fail(redis->uri() + "&timeout_ms=300");
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->write({res("x@x/r", 1)}).ok());
  ASSERT_TRUE(s->flush().ok());
  redis->freeze();
  ASSERT_TRUE(s->write({res("x@x/r", 2)}).ok());  // buffered; the socket looks healthy
  const auto t0 = std::chrono::steady_clock::now();
  auto f = s->flush();
  const auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(proto::to_stanza_error(f).app, proto::AppCondition::kNotReady);
  EXPECT_NE(f.message().find("no reply within 300 ms"), std::string::npos) << f.message();
  EXPECT_EQ(f.code(), StatusCode::kTimeout);
  EXPECT_LT(waited, std::chrono::seconds(3));
  auto w = s->write({res("x@x/r", 3)});  // reconnect: TCP accepts, SELECT times out
  EXPECT_FALSE(w.ok());
  redis->thaw();
  auto f2 = s->flush();
  ASSERT_TRUE(f2.ok()) << f2.message();
  // Give the server a moment to drain whatever the abandoned connections had sent.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto img = open_or_fail(redis->uri())->load();
  ASSERT_TRUE(img.ok());
  ASSERT_EQ(img->resources.size(), 1u);
  EXPECT_EQ(img->resources[0].fields, res("x@x/r", 3).fields);
}

// Every key carries a hash tag: a user's roster and sessions share {u:USER}, all resources
// of a contact share {c:BARE}. Checked with CLUSTER KEYSLOT on a cluster-enabled node.
TEST(RedisStore, KeyLayoutKeepsOneOwnerInOneSlot) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  test::RedisOptions co;
  co.appendonly = false;
  co.cluster_enabled = true;
  auto cluster = start_redis(co);
  ASSERT_TRUE(cluster);
  auto slot = [&](const std::string& key) {
    auto r = cluster->command({"CLUSTER", "KEYSLOT", key});
    EXPECT_TRUE(r && !r->error) << (r ? r->str : "no reply");
    return r ? r->integer : -1;
  };
  auto s = open_or_fail(redis->uri(0, "kl"));
  ASSERT_TRUE(s);
  core::Batch b;
  const std::vector<std::string> users = {"alice@x", "bob@y", "we{ird}@z"};
  for (const auto& u : users) {
    b.push_back(core::PutRoster{u, {"carol@x", "dave@y"}});
    b.push_back(core::PutSession{{u, "s1", "phone", {"k", 1, 1, {}}, std::nullopt}});
    b.push_back(core::PutSession{{u, "s2", "pc", {"k", 1, 1, {}}, std::nullopt}});
  }
  for (const char* r : {"carol@x/a", "carol@x/b", "dave@y/c", "bob@y/d"}) b.push_back(res(r, 1));
  b.push_back(core::PutEpoch{2});
  ASSERT_TRUE(s->write(b).ok());
  ASSERT_TRUE(s->flush().ok());
  auto keys = redis->command({"KEYS", "kl:*"});
  ASSERT_TRUE(keys);
  // 3 users x (roster + sessions) + 3 contacts with resources + epoch.
  EXPECT_EQ(keys->elements.size(), 10u);
  auto* rs = dynamic_cast<RedisStore*>(s.get());
  ASSERT_NE(rs, nullptr);
  for (const auto& u : users) {
    const long long tag = slot("{u:" + u + "}");
    // A JID with braces hashes on the first {...} of the key: still one slot per user.
    const long long roster = slot(rs->roster_key(u));
    EXPECT_EQ(roster, slot(rs->sessions_key(u))) << u;
    if (u.find('}') == std::string::npos) {
      EXPECT_EQ(roster, tag) << u;
    }
  }
  for (const char* c : {"carol@x", "dave@y", "bob@y"})
    EXPECT_EQ(slot(rs->resources_key(c)), slot(std::string("{c:") + c + "}")) << c;
  // Every key written has a hash tag (its slot is that of its braces' content).
  for (const auto& k : keys->elements) {
    auto open = k.find('{');
    auto close = k.find('}', open + 1);
    ASSERT_NE(open, std::string::npos) << k;
    ASSERT_NE(close, std::string::npos) << k;
    EXPECT_EQ(slot(k), slot(k.substr(open + 1, close - open - 1))) << k;
  }
  // Store and harness agree on the names.
  std::set<std::string> listed(keys->elements.begin(), keys->elements.end());
  EXPECT_TRUE(listed.count(rs->resources_key("carol@x")));
  EXPECT_TRUE(listed.count(rs->epoch_key()));
  auto img = s->load();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->rosters.size(), 3u);
  EXPECT_EQ(img->sessions.size(), 6u);
  EXPECT_EQ(img->resources.size(), 4u);
}

// The epoch only rises, even when a stale writer (another instance) writes a lower one.
TEST(RedisStore, EpochNeverGoesBackwards) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  auto a = open_or_fail(redis->uri());
  auto b = open_or_fail(redis->uri());
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->write({core::PutEpoch{9}}).ok());
  ASSERT_TRUE(a->flush().ok());
  ASSERT_TRUE(b->write({core::PutEpoch{5}}).ok());
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(a->load()->epoch, 9u);
  ASSERT_TRUE(b->write({core::PutEpoch{10}}).ok());
  ASSERT_TRUE(b->flush().ok());
  EXPECT_EQ(a->load()->epoch, 10u);
}

// Figures, printed (speed targets belong in benchmarks; this only asserts correctness):
// presence mutations through write()+flush() in three shapes, Redis (AOF, appendfsync
// always; and everysec to show what the per-flush fsync costs) next to SQLite (WAL,
// synchronous=FULL) on the same disk in the same run.
TEST(RedisStore, FiguresNextToSqlite) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis();
  ASSERT_TRUE(redis);
  test::RedisOptions lazy;
  lazy.appendfsync = "everysec";
  auto redis_everysec = start_redis(lazy);
  ASSERT_TRUE(redis_everysec);
  TempDir dir;
  int run = 0;
  auto measure = [&](const char* name, const std::string& uri, int n, int per_flush) {
    StoreOptions o;
    o.synchronous_full = true;
    auto opened = open_store(uri, o);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    auto& s = *opened.value();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i += per_flush) {
      core::Batch b;
      for (int j = i; j < i + per_flush && j < n; ++j)
        b.push_back(res("u" + std::to_string(j % 9000) + "@x/r", j));
      ASSERT_TRUE(s.write(b).ok());
      ASSERT_TRUE(s.flush().ok());
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const auto t1 = std::chrono::steady_clock::now();
    auto img = s.load();
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
    ASSERT_TRUE(img.ok());
    EXPECT_EQ(img->resources.size(), static_cast<std::size_t>(std::min(n, 9000)));
    std::printf(
        "%-15s %5d mutations, %5d per flush: %8.1f ms %9.0f mutations/s %7.3f ms/flush; "
        "load %zu rows %6.1f ms\n",
        name, n, per_flush, ms, n / ms * 1000.0, ms / ((n + per_flush - 1) / per_flush),
        img->resources.size(), load_ms);
  };
  for (auto [n, per_flush] : {std::pair{10000, 10000}, std::pair{10000, 100}, std::pair{2000, 1}}) {
    const std::string prefix = "fig" + std::to_string(++run);
    measure("redis always", redis->uri(0, prefix), n, per_flush);
    measure("redis everysec", redis_everysec->uri(0, prefix), n, per_flush);
    measure("sqlite FULL", "sqlite:" + (dir.path() / (prefix + ".db")).string(), n, per_flush);
  }
}

}  // namespace
}  // namespace rpsync::store::testing
