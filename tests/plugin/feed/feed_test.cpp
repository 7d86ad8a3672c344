// SPDX-License-Identifier: MIT
// The change feed against a real redis-server (tests/harness_redis), one scenario each:
// every instance gets every entry exactly once; a reader process SIGKILLed under load
// loses and duplicates nothing (counted); Redis killed and restarted with its AOF loses
// nothing acknowledged; Redis down gives kNotReady, then everything recovers by itself;
// admin entries reach every instance; the observer-group rule through a RedisStore commit;
// a trimmed past is reported as a feed gap; group continuity by heartbeat runs.
// Every wait is bounded in time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/feed/apply.h"
#include "plugin/feed/continuity.h"
#include "plugin/feed/feed_reader.h"
#include "plugin/feed/feed_writer.h"
#include "plugin/store/redis_store.h"
#include "tests/harness_redis/redis_server.h"

namespace rpsync::feed {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#define REQUIRE_REDIS_SERVER()                                                        \
  do {                                                                                \
    if (!test::RedisServer::find_executable())                                        \
      GTEST_SKIP() << "redis-server is not installed (apt-get install redis-server)"; \
  } while (false)

std::unique_ptr<test::RedisServer> start_redis(test::RedisOptions o = {}) {
  std::string why;
  auto r = test::RedisServer::start(std::move(o), &why);
  if (!r) ADD_FAILURE() << why;
  return r;
}

// Durability of Redis itself is not asserted: no fsync per write (faster).
test::RedisOptions no_fsync() {
  test::RedisOptions o;
  o.appendfsync = "no";
  return o;
}

store::RedisTarget target_of(const test::RedisServer& r, int timeout_ms = 2000) {
  auto t = store::parse_redis_uri(r.uri(0, "fd"));
  EXPECT_TRUE(t.ok());
  t.value().timeout_ms = timeout_ms;
  return t.value();
}

ReaderOptions reader_options(std::string instance) {
  ReaderOptions o;
  o.instance = std::move(instance);
  o.block_ms = 100;
  o.redeliver_after_ms = 1000;
  o.backoff_min_ms = 20;
  o.backoff_max_ms = 300;
  return o;
}

core::Batch presence_of(int i) {
  return {core::PutResource{"n" + std::to_string(i) + "@x/r", {}}};
}

// The jid of an entry published by presence_of().
std::string marker(const Entry& e) {
  if (e.mutations.empty()) return e.user;
  if (const auto* p = std::get_if<core::PutResource>(&e.mutations.front())) return p->jid;
  return {};
}

template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// What one instance applied (inline executor: apply runs on the reader's thread).
struct Sink {
  std::mutex mu;
  std::vector<std::string> markers;
  std::vector<std::string> ids;
  std::vector<std::string> gaps;
  Executor executor() {
    return [](std::function<void()> f) { f(); };
  }
  ApplyFn apply() {
    return [this](const Entry& e) {
      std::lock_guard lock(mu);
      markers.push_back(marker(e));
      ids.push_back(e.id);
      return true;
    };
  }
  GapFn gap() {
    return [this](const std::string& why) {
      std::lock_guard lock(mu);
      gaps.push_back(why);
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return markers.size();
  }
  std::size_t gap_count() {
    std::lock_guard lock(mu);
    return gaps.size();
  }
};

// A loop on the test's thread: the owner's executor for engine tests.
class Loop {
 public:
  Executor executor() {
    return [this](std::function<void()> f) {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(f));
    };
  }
  template <class Pred>
  bool run_until(Pred pred, std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      std::deque<std::function<void()>> now;
      {
        std::lock_guard lock(mu_);
        now.swap(queue_);
      }
      for (auto& f : now) f();
      if (pred()) return true;
      std::this_thread::sleep_for(2ms);
    }
    return pred();
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> queue_;
};

std::unique_ptr<FeedWriter> writer(const store::RedisTarget& t, std::string origin = "w",
                                   std::string group = "gw", std::uint64_t retention = 1000000) {
  auto w = FeedWriter::open(t, {std::move(origin), std::move(group), retention, 0});
  EXPECT_TRUE(w.ok());
  return std::move(w.value());
}

TEST(Feed, EveryInstanceAppliesEveryEntryExactlyOnceInOrder) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  for (const char* i : {"a", "b", "w"}) ASSERT_TRUE(FeedReader::prepare(t, i).ok());
  Sink a, b, self;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  FeedReader rb(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  FeedReader rw(t, reader_options("w"), self.executor(), self.apply(), self.gap());
  ra.start();
  rb.start();
  rw.start();
  auto w = writer(t);
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  ASSERT_TRUE(wait_until([&] { return a.count() >= kN && b.count() >= kN; }, 20s))
      << a.count() << " " << b.count();
  std::this_thread::sleep_for(200ms);  // anything extra would show now
  for (Sink* s : {&a, &b}) {
    ASSERT_EQ(s->count(), std::size_t{kN});
    for (int i = 0; i < kN; ++i)
      EXPECT_EQ(s->markers[static_cast<std::size_t>(i)], "n" + std::to_string(i) + "@x/r");
    EXPECT_EQ(std::set<std::string>(s->ids.begin(), s->ids.end()).size(), std::size_t{kN});
    EXPECT_EQ(s->gap_count(), 0u);
  }
  EXPECT_EQ(ra.stats().applied, std::uint64_t{kN});
  EXPECT_EQ(ra.stats().duplicates_by_id + ra.stats().duplicates_by_writer, 0u);
  // The publishing instance's own reader acknowledges its entries without applying them.
  ASSERT_TRUE(wait_until([&] { return rw.stats().own >= kN; }, 10s)) << rw.stats().own;
  EXPECT_EQ(self.count(), 0u);
  auto pending = redis->command({"XPENDING", "fd:{feed}:changes", "a"});
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->elements.empty() ? "0" : pending->elements[0], "0") << "all acknowledged";
}

TEST(Feed, AnEntryTheOwnerRefusedIsDeliveredAgainBeforeAnythingNewer) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  std::mutex mu;
  std::vector<std::string> applied;
  int refusals = 0;
  FeedReader r(
      t, reader_options("a"), [](std::function<void()> f) { f(); },
      [&](const Entry& e) {
        std::lock_guard lock(mu);
        if (marker(e) == "n5@x/r" && refusals < 2) {  // e.g. the owner's store is down
          ++refusals;
          return false;
        }
        applied.push_back(marker(e));
        return true;
      },
      {});
  r.start();
  auto w = writer(t);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  ASSERT_TRUE(wait_until(
      [&] {
        std::lock_guard lock(mu);
        return applied.size() >= 20;
      },
      10s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(mu);
  ASSERT_EQ(applied.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(applied[static_cast<std::size_t>(i)], "n" + std::to_string(i) + "@x/r");
  EXPECT_EQ(refusals, 2);
  EXPECT_GE(r.stats().failures, 2u);
  EXPECT_GE(r.stats().redelivered, 2u);
}

TEST(Feed, ACommitSentTwiceIsAppliedOnce) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  Sink a;
  FeedReader r(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  r.start();
  // What a RedisStore re-sends after a commit whose reply was lost: the same commands.
  Publisher p({"w", "gw"}, t.prefix);
  auto cmds = p.commands(presence_of(1), {});
  ASSERT_EQ(cmds.size(), 1u);
  for (const auto& c : {cmds[0], cmds[0], p.commands(presence_of(2), {})[0]}) {
    auto reply = redis->command(c);
    ASSERT_TRUE(reply);
    EXPECT_FALSE(reply->error) << reply->str;
  }
  ASSERT_TRUE(wait_until([&] { return a.count() == 2; }, 5s))
      << a.count() << " applied, " << r.stats().duplicates_by_writer << " by writer, "
      << r.stats().gaps << " gaps, " << r.last_error();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(r.stats().duplicates_by_writer, 1u);
}

TEST(Feed, ARedisStoreCommitRetriedAfterAnOutagePublishesItsEntryOnce) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 300);
  ASSERT_TRUE(FeedReader::prepare(t, "b").ok());
  auto opened = store::RedisStore::open_redis(t, {});
  ASSERT_TRUE(opened.ok());
  auto& st = *opened.value();
  auto publisher = std::make_shared<Publisher>(FeedConfig{"a", "g"}, t.prefix);
  int hook_calls = 0;
  auto hook = commit_hook(publisher, {});
  st.set_commit_hook([&](const core::Batch& b) {
    ++hook_calls;
    return hook(b);
  });
  redis->stop();
  (void)st.write(presence_of(1));  // buffered; Redis is unreachable
  EXPECT_FALSE(st.flush().ok());   // the commit (with its feed entry) fails...
  EXPECT_FALSE(st.flush().ok());   // ...and fails again
  EXPECT_EQ(hook_calls, 1) << "the hook ran once for the mutation, not per attempt";
  ASSERT_TRUE(redis->restart());
  bool flushed = false;
  for (int i = 0; i < 50 && !flushed; ++i) {
    flushed = st.flush().ok();
    if (!flushed) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(flushed);
  EXPECT_EQ(hook_calls, 1);
  EXPECT_EQ(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 1);
  ASSERT_TRUE(st.write(presence_of(2)).ok());
  ASSERT_TRUE(st.flush().ok());
  EXPECT_EQ(hook_calls, 2);
  Sink b;
  FeedReader r(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  r.start();
  ASSERT_TRUE(wait_until([&] { return b.count() == 2; }, 5s));
  std::this_thread::sleep_for(200ms);
  std::lock_guard lock(b.mu);
  EXPECT_EQ(b.markers, (std::vector<std::string>{"n1@x/r", "n2@x/r"}));
}

// ---- kill -9 of a reader process under load ----

// The reader child: applies an entry by appending "ID MARKER\n" to `path` with one
// write(2) (all or nothing under SIGKILL), before the reader acknowledges it. On start it
// passes the newest id in the file as last_applied, so entries applied but not yet
// acknowledged when it was killed are acknowledged without being applied again. Also
// appends one line per duplicate it suppressed to path + ".dups". Never returns.
[[noreturn]] void reader_child(const store::RedisTarget& t, const std::string& path) {
  std::string last = "0-0";
  {
    std::ifstream in(path);
    std::string id, m;
    while (in >> id >> m)
      if (StreamId::parse(id) && *StreamId::parse(id) > *StreamId::parse(last)) last = id;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) _exit(2);
  auto o = reader_options("child");
  o.last_applied = last;
  o.batch = 16;
  FeedReader r(
      t, o, [](std::function<void()> f) { f(); },
      [fd](const Entry& e) {
        const std::string line = e.id + " " + marker(e) + "\n";
        const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        // Slower than the publisher, so a kill lands between applying and acknowledging.
        std::this_thread::sleep_for(300us);
        return ok;
      },
      [](const std::string&) {});
  r.start();
  std::uint64_t dups = 0;
  for (int i = 0; i < 6000; ++i) {  // 30 s at most
    std::this_thread::sleep_for(5ms);
    const auto s = r.stats();
    if (s.duplicates_by_id != dups) {
      std::ofstream(path + ".dups", std::ios::app) << s.duplicates_by_id - dups << "\n";
      dups = s.duplicates_by_id;
    }
  }
  _exit(0);
}

std::size_t lines_in(const std::string& path) {
  std::ifstream in(path);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST(Feed, ReaderProcessKilledUnderLoadAppliesEveryEntryExactlyOnce) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());  // Redis is not killed here
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  const std::string path = (redis->dir() / "applied.txt").string();
  ASSERT_TRUE(FeedReader::prepare(t, "child").ok());
  auto spawn = [&] {
    pid_t pid = ::fork();
    if (pid == 0) reader_child(t, path);
    return pid;
  };
  auto w = writer(t);
  constexpr int kN = 3000;
  constexpr int kKills = 3;
  pid_t child = spawn();
  ASSERT_GT(child, 0);
  int kills = 0;
  for (int i = 0; i < kN; ++i) {
    ASSERT_TRUE(w->publish(presence_of(i)).ok());
    // Kill it mid-stream, while it is busy applying and acknowledging, three times.
    if (kills < kKills && i == (kills + 1) * kN / (kKills + 1)) {
      const std::size_t before = lines_in(path);
      wait_until([&] { return lines_in(path) > before + 40; }, 5s);  // busy applying
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      ++kills;
      child = spawn();
      ASSERT_GT(child, 0);
    }
  }
  const bool done = wait_until([&] { return lines_in(path) >= kN; }, 30s);
  std::this_thread::sleep_for(300ms);  // a duplicate, if any, would land now
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(done) << lines_in(path) << " of " << kN;

  std::map<std::string, int> applied;  // marker -> times applied
  std::ifstream in(path);
  std::string id, m;
  std::size_t lines = 0;
  while (in >> id >> m) {
    ++applied[m];
    ++lines;
  }
  EXPECT_EQ(lines, std::size_t{kN}) << "an entry applied twice or a torn line";
  int missing = 0, twice = 0;
  for (int i = 0; i < kN; ++i) {
    int n = applied["n" + std::to_string(i) + "@x/r"];
    missing += n == 0;
    twice += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(twice, 0);
  std::size_t suppressed = 0;
  std::ifstream dups(path + ".dups");
  for (std::size_t d; dups >> d;) suppressed += d;
  EXPECT_GT(suppressed, 0u) << "no kill landed between apply and acknowledgement: weak run";
  std::printf(
      "[ figures  ] %d entries, %d kill -9 of the reader, %zu applied lines, %zu "
      "redelivered duplicates suppressed by id\n",
      kN, kills, lines, suppressed);
}

// ---- kill -9 of a whole instance (engine + RedisStore + reader) under load ----

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int kUsers = 10;
std::string user(int u) {
  return "u" + std::to_string(u) + "@x";
}

// Instance B (observer group srvB), wired the way the component is meant to be
// (plugin/feed/README.md): prepare -> load -> restore -> reader from the baseline. Appends
// the id of every entry it applies to dir/applied; once dir/finish exists and it has
// caught up, writes "USER DIGEST COUNT" lines to dir/view and exits.
[[noreturn]] void instance_child(const store::RedisTarget& t, const std::filesystem::path& dir) {
  auto prep = FeedReader::prepare(t, "B");
  if (!prep.ok()) _exit(2);
  auto opened = store::RedisStore::open_redis(t, {});
  if (!opened.ok()) _exit(3);
  auto& st = *opened.value();
  core::EngineOptions eo;
  eo.clock = wall_ms;
  core::Engine engine(eo);
  auto img = st.load();
  if (!img.ok()) _exit(4);
  engine.restore(*img);
  st.set_commit_hook(
      commit_hook(std::make_shared<Publisher>(FeedConfig{"B", "srvB"}, t.prefix), {}));
  if (!st.write(engine.take_changes()).ok() || !st.flush().ok()) _exit(5);
  const int fd = ::open((dir / "applied").c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0) _exit(6);
  Loop loop;
  auto o = reader_options("B");
  o.last_applied = prep.value().baseline;
  FeedReader r(
      t, o, loop.executor(),
      [&](const Entry& e) {
        apply_entry(engine, e, {"B", "srvB"});
        const std::string line = e.id + "\n";
        const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
        std::this_thread::sleep_for(300us);  // lag behind A, so kills land mid-batch
        return ok;
      },
      [&](const std::string&) { engine.gap(); });
  r.start();
  const auto finish = dir / "finish";
  if (!loop.run_until([&] { return std::filesystem::exists(finish); }, 60s)) _exit(7);
  // A read that began after the last commit must have come back empty.
  loop.run_until([] { return false; }, 400ms);
  if (!loop.run_until([&] { return r.caught_up(); }, 10s)) _exit(8);
  std::ofstream out(dir / "view.tmp");
  for (int u = 0; u < kUsers; ++u) {
    auto d = engine.digest(user(u));
    out << user(u) << " " << d.hex() << " " << d.count() << "\n";
  }
  out.close();
  std::filesystem::rename(dir / "view.tmp", dir / "view");
  r.stop();
  _exit(0);
}

TEST(Feed, InstanceKilledUnderLoadEndsWithTheSameViewAndNoEntryAppliedTwice) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  const auto dir = redis->dir();
  // Instance A (observer group srvA) makes every change; B applies them through the feed.
  auto opened = store::RedisStore::open_redis(t, {});
  ASSERT_TRUE(opened.ok());
  auto& st = *opened.value();
  core::EngineOptions eo;
  eo.clock = wall_ms;
  core::Engine a(eo);
  st.set_commit_hook(commit_hook(
      std::make_shared<Publisher>(FeedConfig{"A", "srvA"}, t.prefix),
      [&](const core::SessionRecord& r) {
        return SessionDigests{a.digest_at(r.user, r.stream, r.resource, r.newest.id), std::nullopt};
      }));
  ASSERT_TRUE(FeedReader::prepare(t, "A").ok());
  std::vector<int> last(kUsers, 0);
  for (int u = 0; u < kUsers; ++u) {
    std::vector<std::string> roster;
    for (int k = 0; k < 15; ++k) roster.push_back("c" + std::to_string((u * 3 + k) % 40) + "@x");
    a.set_roster(user(u), roster);
    ASSERT_TRUE(a.enable(user(u), "s", "r", "k0").ok());
  }
  ASSERT_TRUE(st.write(a.take_changes()).ok());
  ASSERT_TRUE(st.flush().ok());

  auto spawn = [&] {
    pid_t pid = ::fork();
    if (pid == 0) instance_child(t, dir);
    return pid;
  };
  pid_t child = spawn();
  ASSERT_GT(child, 0);
  std::mt19937 rng(7);
  constexpr int kSteps = 1500;
  int kills = 0;
  for (int step = 0; step < kSteps; ++step) {
    for (int k = 0; k < 5; ++k) {
      const std::string jid = "c" + std::to_string(rng() % 40) + "@x/r" + std::to_string(rng() % 2);
      if (rng() % 4 == 0) {
        a.observe_unavailable(jid);
      } else {
        proto::PresenceFields f;
        f.status = "s" + std::to_string(rng() % 7);
        a.observe_available(jid, f);
      }
    }
    if (step % 10 == 0) {
      const int u = static_cast<int>(rng() % kUsers);
      auto& n = last[static_cast<std::size_t>(u)];
      ASSERT_TRUE(
          a.checkpoint(user(u), "s", "r", "k" + std::to_string(n), "k" + std::to_string(n + 1))
              .ok());
      ++n;
    }
    ASSERT_TRUE(st.write(a.take_changes()).ok());
    ASSERT_TRUE(st.flush().ok());  // one commit = one feed entry
    if (step > 0 && step % 400 == 0) {
      const std::size_t before = lines_in((dir / "applied").string());
      wait_until([&] { return lines_in((dir / "applied").string()) > before; }, 5s);
      ::kill(child, SIGKILL);
      ::waitpid(child, nullptr, 0);
      ++kills;
      child = spawn();
      ASSERT_GT(child, 0);
    }
  }
  std::ofstream(dir / "finish") << "done\n";
  int status = -1;
  for (int i = 0; i < 3000; ++i) {  // 30 s
    if (::waitpid(child, &status, WNOHANG) == child) break;
    std::this_thread::sleep_for(10ms);
  }
  if (!WIFEXITED(status)) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    FAIL() << "instance B did not finish";
  }
  ASSERT_EQ(WEXITSTATUS(status), 0) << "instance B failed at step " << WEXITSTATUS(status);
  std::ifstream view(dir / "view");
  std::string u, hex;
  std::uint32_t count = 0;
  int users = 0;
  while (view >> u >> hex >> count) {
    const auto d = a.digest(u);
    EXPECT_EQ(hex, d.hex()) << u << ": B's view differs from A's (a change was lost)";
    EXPECT_EQ(count, d.count()) << u;
    ++users;
  }
  EXPECT_EQ(users, kUsers);
  std::map<std::string, int> applied;
  std::ifstream in(dir / "applied");
  std::size_t lines = 0;
  for (std::string id; in >> id; ++lines) ++applied[id];
  int twice = 0;
  for (const auto& [id, n] : applied) twice += n > 1;
  EXPECT_EQ(twice, 0) << "an entry applied twice by B";
  std::printf(
      "[ figures  ] %d commits by A, %d kill -9 of instance B, %zu entries applied by "
      "B (the rest reached it through its store image at restart), 0 applied twice\n",
      kSteps, kills, lines);
}

// ---- Redis itself killed and restarted ----

// Redis goes away mid-stream (SIGKILL, or a clean SHUTDOWN) and comes back with its AOF.
void redis_restart_scenario(bool hard) {
  auto redis = start_redis();  // appendonly yes, appendfsync always
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 500);
  for (const char* i : {"a", "b"}) ASSERT_TRUE(FeedReader::prepare(t, i).ok());
  Sink a, b;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  FeedReader rb(t, reader_options("b"), b.executor(), b.apply(), b.gap());
  ra.start();
  rb.start();
  auto w = writer(t);
  constexpr int kN = 400;
  std::set<std::string> acknowledged;  // markers whose publish (or a later one) succeeded
  std::vector<std::string> unsure;     // published in a call that failed: sent again later
  int failures = 0;
  for (int i = 0; i < kN; ++i) {
    if (i == kN / 2) {
      if (hard)
        redis->kill();  // SIGKILL while readers are reading and acknowledging
      else
        redis->stop();
      auto r = w->publish(presence_of(i));
      EXPECT_FALSE(r.ok());
      if (!r.ok()) {
        EXPECT_EQ(proto::to_stanza_error(r.status()).app, proto::AppCondition::kNotReady);
      }
      unsure.push_back("n" + std::to_string(i) + "@x/r");
      ASSERT_TRUE(redis->restart());
      continue;
    }
    const std::string mk = "n" + std::to_string(i) + "@x/r";
    bool ok = false;
    for (int attempt = 0; attempt < 100 && !ok; ++attempt) {
      ok = w->publish(presence_of(i)).ok();
      if (!ok) {
        ++failures;
        std::this_thread::sleep_for(20ms);
      }
    }
    ASSERT_TRUE(ok) << "Redis did not come back";
    acknowledged.insert(mk);
    for (auto& u : unsure) acknowledged.insert(u);  // re-sent first by this call
    unsure.clear();
  }
  ASSERT_TRUE(wait_until(
      [&] { return a.count() >= acknowledged.size() && b.count() >= acknowledged.size(); }, 20s))
      << a.count() << " " << b.count() << " of " << acknowledged.size();
  std::this_thread::sleep_for(300ms);
  for (Sink* s : {&a, &b}) {
    std::lock_guard lock(s->mu);
    std::map<std::string, int> times;
    for (const auto& m : s->markers) ++times[m];
    for (const auto& m : acknowledged) EXPECT_EQ(times[m], 1) << m;
    EXPECT_EQ(s->markers.size(), acknowledged.size());
    EXPECT_TRUE(s->gaps.empty()) << s->gaps.front();
  }
  EXPECT_TRUE(ra.ready()) << ra.last_error();
  std::printf(
      "[ figures  ] %zu entries acknowledged across a %s of Redis; reader a: "
      "%llu failures retried, %llu duplicates dropped by id, %llu by writer id\n",
      acknowledged.size(), hard ? "kill -9" : "shutdown",
      static_cast<unsigned long long>(ra.stats().failures),
      static_cast<unsigned long long>(ra.stats().duplicates_by_id),
      static_cast<unsigned long long>(ra.stats().duplicates_by_writer));
}

TEST(Feed, RedisKilledAndRestartedWithAofLosesNothingAcknowledged) {
  REQUIRE_REDIS_SERVER();
  redis_restart_scenario(true);
}

TEST(Feed, RedisShutDownAndRestartedLosesNothingAcknowledged) {
  REQUIRE_REDIS_SERVER();
  redis_restart_scenario(false);
}

TEST(Feed, RedisDownGivesNotReadyThenEverythingRecoversByItself) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis, 300);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  Sink a;
  FeedReader ra(t, reader_options("a"), a.executor(), a.apply(), a.gap());
  ra.start();
  auto w = writer(t);
  GroupContinuity hb(t, "a", "g", 5000);
  ASSERT_TRUE(w->publish(presence_of(0)).ok());
  ASSERT_TRUE(wait_until([&] { return a.count() == 1 && ra.ready(); }, 5s));

  redis->stop();
  auto p = w->publish(presence_of(1));
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(proto::to_stanza_error(p.status()).app, proto::AppCondition::kNotReady);
  EXPECT_EQ(p.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(p.status().message().find("feed: redis 127.0.0.1"), std::string::npos)
      << p.status().message();
  auto prep = FeedReader::prepare(t, "z");
  ASSERT_FALSE(prep.ok());
  EXPECT_EQ(proto::to_stanza_error(prep.status()).app, proto::AppCondition::kNotReady);
  auto beat = hb.beat();
  ASSERT_FALSE(beat.ok());
  EXPECT_EQ(proto::to_stanza_error(beat.status()).app, proto::AppCondition::kNotReady);
  ASSERT_TRUE(wait_until([&] { return !ra.ready(); }, 5s));
  EXPECT_NE(ra.last_error().find("feed:"), std::string::npos) << ra.last_error();

  ASSERT_TRUE(redis->restart());
  bool published = false;
  for (int i = 0; i < 100 && !published; ++i) {
    published = w->publish(presence_of(2)).ok();
    if (!published) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(published);
  ASSERT_TRUE(wait_until([&] { return a.count() == 3 && ra.ready(); }, 10s))
      << a.count() << " " << ra.last_error();
  {
    std::lock_guard lock(a.mu);
    EXPECT_EQ(a.markers, (std::vector<std::string>{"n0@x/r", "n1@x/r", "n2@x/r"}))
        << "the failed publish was sent again, first, by the next one";
  }
  EXPECT_TRUE(hb.beat().ok());
  EXPECT_GT(ra.stats().failures, 0u);
}

// ---- admin operations and the observer-group rule, applied to engines ----

struct Instance {
  std::string id, group;
  std::int64_t now = 1'000'000;
  core::Engine engine;
  Loop loop;
  std::unique_ptr<FeedReader> reader;
  std::size_t gaps = 0;
  Applied total;

  static core::EngineOptions options(std::int64_t* now) {
    core::EngineOptions o;
    o.clock = [now] { return *now; };
    return o;
  }
  Instance(const store::RedisTarget& t, std::string id_, std::string group_)
      : id(std::move(id_)), group(std::move(group_)), engine(options(&now)) {
    EXPECT_TRUE(FeedReader::prepare(t, id).ok());
    reader = std::make_unique<FeedReader>(
        t, reader_options(id), loop.executor(),
        [this](const Entry& e) {
          auto a = apply_entry(engine, e, {id, group});
          total.presence += a.presence;
          total.presence_skipped += a.presence_skipped;
          total.sessions += a.sessions;
          total.answerable += a.answerable;
          total.admin += a.admin;
          return true;
        },
        [this](const std::string&) { ++gaps; });
    reader->start();
  }
};

TEST(Feed, PurgeAndInvalidateReachEveryInstance) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  std::vector<std::unique_ptr<Instance>> all;
  for (const char* id : {"i1", "i2", "i3"}) {
    all.push_back(std::make_unique<Instance>(t, id, "g"));
    auto& e = all.back()->engine;
    e.set_roster("alice@x", {"bob@x"});
    e.set_roster("erin@x", {"bob@x"});
    ASSERT_TRUE(e.enable("alice@x", "s", "r", "k1").ok());
    ASSERT_TRUE(e.enable("erin@x", "s", "r", "k1").ok());
  }
  auto admin = writer(t, "admin", "g");
  ASSERT_TRUE(admin->purge_user("alice@x").ok());
  for (auto& in : all)
    EXPECT_TRUE(in->loop.run_until([&] { return in->engine.stats().sessions == 1; }, 5s)) << in->id;
  ASSERT_TRUE(admin->invalidate_keys("*").ok());
  for (auto& in : all) {
    EXPECT_TRUE(in->loop.run_until(
        [&] { return !in->engine.digest_at("erin@x", "s", "r", "k1").has_value(); }, 5s))
        << in->id;
    EXPECT_EQ(in->total.admin, 2u);
    EXPECT_TRUE(in->engine.view("alice@x").empty()) << "purged roster";
    EXPECT_EQ(in->engine.sync("erin@x", "s2", "r", "k2", {"s", "r", "k1"}).error().app,
              proto::AppCondition::kContinuityLost);
  }
}

TEST(Feed, CommitsCarryTheirFeedEntriesAndPeersApplyByObserverGroup) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  // Instance A (observer group "srv1") writes through a RedisStore with the feed hook.
  Instance b(t, "b", "srv1");  // same server as A: presence not applied
  Instance c(t, "c", "srv2");  // another server: presence applied
  std::int64_t now = 1'000'000;
  core::EngineOptions eo;
  eo.clock = [&] { return now; };
  core::Engine a(eo);
  ASSERT_TRUE(FeedReader::prepare(t, "a").ok());
  auto opened = store::RedisStore::open_redis(t, {});
  ASSERT_TRUE(opened.ok());
  auto& st = *opened.value();
  auto publisher = std::make_shared<Publisher>(FeedConfig{"a", "srv1"}, t.prefix);
  st.set_commit_hook(commit_hook(publisher, [&](const core::SessionRecord& r) {
    return SessionDigests{
        a.digest_at(r.user, r.stream, r.resource, r.newest.id),
        r.previous ? a.digest_at(r.user, r.stream, r.resource, r.previous->id) : std::nullopt};
  }));
  proto::PresenceFields f;
  f.status = "at work";
  a.observe_available("bob@x/phone", f);
  a.set_roster("alice@x", {"bob@x"});
  ASSERT_TRUE(a.enable("alice@x", "s1", "r", "e1").ok());
  ASSERT_TRUE(st.write(a.take_changes()).ok());
  ASSERT_TRUE(st.flush().ok());
  EXPECT_EQ(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 1) << "one entry per commit";

  ASSERT_TRUE(c.loop.run_until([&] { return c.engine.stats().sessions == 1; }, 5s));
  ASSERT_TRUE(b.loop.run_until([&] { return b.engine.stats().sessions == 1; }, 5s));
  EXPECT_EQ(c.total.presence, 1u);
  EXPECT_EQ(b.total.presence_skipped, 1u);
  EXPECT_EQ(b.total.presence, 0u);
  EXPECT_EQ(c.engine.view("alice@x"), a.view("alice@x"));
  EXPECT_TRUE(b.engine.view("alice@x").empty()) << "b would have seen bob directly";
  // The key enabled at A is answerable at C (same view) and exact after a change.
  EXPECT_EQ(c.total.answerable, 1u);
  EXPECT_EQ(b.total.answerable, 0u) << "b's view differs from the client's: not answerable";
  f.status = "home";
  a.observe_available("bob@x/phone", f);
  ASSERT_TRUE(st.write(a.take_changes()).ok());
  ASSERT_TRUE(st.flush().ok());
  ASSERT_TRUE(c.loop.run_until([&] { return c.total.presence == 2; }, 5s));
  auto at_c = c.engine.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_TRUE(at_c.ok()) << at_c.error().text;
  ASSERT_EQ(at_c->changed.size(), 1u);
  EXPECT_EQ(at_c->changed[0].values.status, "home");
  EXPECT_EQ(at_c->state, a.digest("alice@x"));
  auto at_b = b.engine.sync("alice@x", "s2", "r", "y1", {"s1", "r", "e1"});
  ASSERT_FALSE(at_b.ok());
  EXPECT_EQ(at_b.error().app, proto::AppCondition::kContinuityLost);
  // The data is in Redis too (same MULTI/EXEC as the entries).
  auto img = st.load();
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->sessions.size(), 1u);
}

TEST(Feed, EntriesTrimmedBeforeAnInstanceReadThemAreReportedAsAFeedGap) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  ASSERT_TRUE(FeedReader::prepare(t, "late").ok());  // registered, then away
  auto w = writer(t, "w", "gw", 50);                 // retention: ~50 entries
  constexpr int kN = 1000;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(w->publish(presence_of(i)).ok());
  const long long left = redis->command({"XLEN", "fd:{feed}:changes"})->integer;
  ASSERT_LT(left, kN) << "retention trimmed";
  Sink s;
  FeedReader r(t, reader_options("late"), s.executor(), s.apply(), s.gap());
  r.start();
  ASSERT_TRUE(wait_until([&] { return s.count() == static_cast<std::size_t>(left); }, 10s))
      << s.count() << " of " << left;
  EXPECT_EQ(s.gap_count(), 1u);
  {
    std::lock_guard lock(s.mu);
    EXPECT_NE(s.gaps.front().find("trimmed"), std::string::npos) << s.gaps.front();
    EXPECT_EQ(s.markers.back(), "n" + std::to_string(kN - 1) + "@x/r");
  }
  // An instance that keeps up never sees a gap, whatever the retention.
  Sink s2;
  ASSERT_TRUE(FeedReader::prepare(t, "keeps-up").ok());
  FeedReader r2(t, reader_options("keeps-up"), s2.executor(), s2.apply(), s2.gap());
  r2.start();
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(w->publish(presence_of(i)).ok());
    if (i % 20 == 0) wait_until([&] { return s2.count() == static_cast<std::size_t>(i + 1); }, 5s);
  }
  ASSERT_TRUE(wait_until([&] { return s2.count() == 200; }, 10s));
  EXPECT_EQ(s2.gap_count(), 0u);
}

TEST(Feed, RetentionByAgeTrimsOldEntries) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  auto w = FeedWriter::open(t, {"w", "gw", 0, 50});  // no count bound, keep ~50 ms
  ASSERT_TRUE(w.ok());
  for (int i = 0; i < 300; ++i) ASSERT_TRUE((*w)->publish(presence_of(i)).ok());
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE((*w)->publish(presence_of(300)).ok());
  // Trimming is approximate (whole stream nodes of 100 entries), never exact.
  EXPECT_LT(redis->command({"XLEN", "fd:{feed}:changes"})->integer, 301);
}

TEST(Feed, GroupContinuityKeptWhileAPeerBeatsLostWhenAllWereCutOff) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  GroupContinuity p(t, "p", "srv", 800), q(t, "q", "srv", 800), other(t, "o", "srv2", 800);
  auto tick = [] { std::this_thread::sleep_for(5ms); };
  ASSERT_TRUE(p.beat().ok());
  tick();
  // A brand-new instance joining while p observes its server: nothing is lost.
  GroupContinuity fresh(t, "n", "srv", 800);
  ASSERT_TRUE(fresh.beat().ok());
  auto joined = fresh.decide();
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->verdict, Verdict::kPending) << "p has not beaten since n started";
  tick();
  ASSERT_TRUE(p.beat().ok());
  joined = fresh.decide();
  ASSERT_TRUE(joined.ok());
  EXPECT_EQ(joined->verdict, Verdict::kKept);
  EXPECT_EQ(joined->group_epoch, 0u);
  ASSERT_TRUE(fresh.end_run().ok());
  ASSERT_TRUE(other.beat().ok());
  ASSERT_TRUE(q.beat().ok());
  tick();
  // q's own gap; p keeps observing.
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(p.beat().ok());
  tick();
  auto back = q.beat();
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->new_run);
  EXPECT_TRUE(back->decide);
  auto d = q.decide();
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->verdict, Verdict::kPending) << "p has not beaten since q came back";
  tick();
  ASSERT_TRUE(p.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kKept);
  EXPECT_EQ(d->covered_by, "p");
  EXPECT_EQ(d->group_epoch, 0u);
  back = q.beat();
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->decide) << "settled";
  EXPECT_FALSE(back->new_run);

  // Both cut off at once: nobody covers q's gap, the group epoch rises, p sees it.
  ASSERT_TRUE(p.end_run().ok());
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(other.beat().ok());  // another server's observer does not count
  ASSERT_TRUE(q.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kLost);
  EXPECT_EQ(d->group_epoch, 1u);
  auto pb = p.beat();
  ASSERT_TRUE(pb.ok());
  EXPECT_EQ(pb->group_epoch, 1u);

  // A peer that stops beating (crashed) inside the gap: pending until its heartbeat
  // expires (ttl 800 ms), then lost.
  ASSERT_TRUE(p.beat().ok());
  tick();
  ASSERT_TRUE(q.beat().ok());
  tick();
  ASSERT_TRUE(q.end_run().ok());
  tick();
  ASSERT_TRUE(p.beat().ok());  // p's last beat, then p dies silently
  tick();
  ASSERT_TRUE(q.beat().ok());
  d = q.decide();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->verdict, Verdict::kPending);
  bool lost = false;
  for (int i = 0; i < 150 && !lost; ++i) {  // ~3 s at most; q keeps beating meanwhile
    std::this_thread::sleep_for(20ms);
    ASSERT_TRUE(q.beat().ok());
    d = q.decide();
    ASSERT_TRUE(d.ok());
    lost = d->verdict == Verdict::kLost;
  }
  EXPECT_TRUE(lost);
  EXPECT_EQ(d->group_epoch, 2u);
}

// end_run() while Redis is unreachable still ends the run: the next beat (Redis back
// within the ttl, heartbeat key still alive) starts a new run and asks for a decision.
TEST(Feed, GroupContinuityRunEndsEvenWhenRedisIsDownAtTheGap) {
  REQUIRE_REDIS_SERVER();
  auto redis = start_redis(no_fsync());
  ASSERT_TRUE(redis);
  const auto t = target_of(*redis);
  GroupContinuity q(t, "q", "srv", 60000);
  ASSERT_TRUE(q.beat().ok());
  ASSERT_TRUE(q.decide().ok());  // q's start settled (first observer: lost)
  auto settled = q.beat();
  ASSERT_TRUE(settled.ok());
  ASSERT_FALSE(settled->decide);
  redis->stop();
  EXPECT_FALSE(q.end_run().ok());
  ASSERT_TRUE(redis->restart());
  auto back = q.beat();
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(back->new_run) << "the gap is not part of the old run";
  EXPECT_TRUE(back->decide) << "the own gap is judged";
}

}  // namespace
}  // namespace rpsync::feed
