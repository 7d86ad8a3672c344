// SPDX-License-Identifier: MIT
// Crash safety of the SQLite store: a child process runs the engine over the store and
// acknowledges checkpoints (after flush()) through a pipe; the parent SIGKILLs it at a
// different moment each round, reopens the file and checks that the database is intact,
// loads, restores an engine, and holds every acknowledged checkpoint.
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "plugin/core/engine.h"
#include "tests/plugin/store/backends.h"

namespace rpsync::store::testing {
namespace {

constexpr int kUsers = 8;

std::string user(int u) {
  return "u" + std::to_string(u) + "@x";
}

// Runs in the child until killed (bounded anyway: 30 s or 1M steps).
[[noreturn]] void writer(const std::string& path, int ack_fd, unsigned seed) {
  StoreOptions so;
  so.synchronous_full = false;        // a process kill, not power loss, is what we test
  so.batch_records = 1 + seed % 500;  // automatic commits land between acknowledgements
  so.compact_min_log = 300;           // and so do presence-log compactions
  auto opened = open_store("sqlite:" + path, so);
  if (!opened.ok()) _exit(2);
  auto& s = *opened.value();
  std::int64_t now = 0;
  core::EngineOptions eo;
  eo.clock = [&] { return now; };
  core::Engine e(eo);
  auto img = s.load();
  if (!img.ok()) _exit(3);
  e.restore(*img);
  std::mt19937 rng(seed);
  // Sessions that survived the previous life go on checkpointing from their stored key.
  std::vector<int> last(kUsers, -1);
  for (const auto& rec : img->sessions)
    last[static_cast<std::size_t>(std::stoi(rec.user.substr(1)))] =
        std::stoi(rec.newest.id.substr(1));
  for (int u = 0; u < kUsers; ++u) {
    std::vector<std::string> roster;
    for (int c = 0; c < 20; ++c) roster.push_back("c" + std::to_string((u * 7 + c) % 60) + "@x");
    e.set_roster(user(u), roster);
    if (last[static_cast<std::size_t>(u)] >= 0) continue;
    if (!e.enable(user(u), "s", "r", "c0").ok()) _exit(4);
    last[static_cast<std::size_t>(u)] = 0;
  }
  if (!s.write(e.take_changes()).ok() || !s.flush().ok()) _exit(5);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (int step = 0; step < 1'000'000 && std::chrono::steady_clock::now() < deadline; ++step) {
    ++now;
    for (int k = 0; k < 20; ++k) {
      std::string jid = "c" + std::to_string(rng() % 60) + "@x/r" + std::to_string(rng() % 3);
      if (rng() % 4 == 0) {
        e.observe_unavailable(jid);
      } else {
        proto::PresenceFields f;
        f.status = "s" + std::to_string(rng() % 10);
        e.observe_available(jid, f);
      }
    }
    if (!s.write(e.take_changes()).ok()) _exit(6);
    int u = static_cast<int>(rng() % kUsers);
    std::string prev = "c" + std::to_string(last[static_cast<std::size_t>(u)]);
    std::string next = "c" + std::to_string(last[static_cast<std::size_t>(u)] + 1);
    if (!e.checkpoint(user(u), "s", "r", prev, next).ok()) _exit(7);
    if (!s.write(e.take_changes()).ok() || !s.flush().ok()) _exit(8);
    ++last[static_cast<std::size_t>(u)];
    std::string ack =
        std::to_string(u) + " " + std::to_string(last[static_cast<std::size_t>(u)]) + "\n";
    if (write(ack_fd, ack.data(), ack.size()) != static_cast<ssize_t>(ack.size())) _exit(9);
  }
  _exit(0);
}

TEST(SqliteCrash, KilledProcessLosesNoAcknowledgedCheckpoint) {
  for (unsigned round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir dir;
    const std::string path = (dir.path() / "crash.db").string();
    std::map<int, int> acked;  // user -> highest acknowledged checkpoint number
    // Two lives per round: the second starts from what the first left behind.
    for (int life = 0; life < 2; ++life) {
      int fds[2];
      ASSERT_EQ(pipe(fds), 0);
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        close(fds[0]);
        writer(path, fds[1], round * 2 + static_cast<unsigned>(life) + 1);
      }
      close(fds[1]);
      // The kill timer starts at the first acknowledgement (a loaded machine may take a
      // while to start the child); waiting for it is bounded.
      const auto run_for =
          std::chrono::milliseconds(10 + 60 * round + 25 * static_cast<unsigned>(life));
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      bool started = false;
      std::string buf;
      char chunk[4096];
      bool killed = false;
      while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            until - std::chrono::steady_clock::now());
        if (!killed && left.count() <= 0) {
          kill(pid, SIGKILL);
          killed = true;
        }
        pollfd p{fds[0], POLLIN, 0};
        poll(&p, 1, killed ? 1000 : static_cast<int>(std::max<long>(left.count(), 1)));
        if (!(p.revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n <= 0) break;  // child dead and pipe drained
        buf.append(chunk, static_cast<std::size_t>(n));
        if (!started) {
          started = true;
          until = std::chrono::steady_clock::now() + run_for;
        }
      }
      close(fds[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited early with " << WEXITSTATUS(status);
      std::istringstream in(buf);
      int u, n, count = 0;
      while (in >> u >> n) {
        acked[u] = std::max(acked[u], n);
        ++count;
      }
      ASSERT_GT(count, 0) << "the writer never acknowledged anything";

      // The file is intact...
      sqlite3* db = nullptr;
      ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
      sqlite3_stmt* st = nullptr;
      ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
      ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
      EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
      sqlite3_finalize(st);
      sqlite3_close(db);
      // ...loads, restores, and every acknowledged checkpoint is there.
      auto s = open_store("sqlite:" + path);
      ASSERT_TRUE(s.ok());
      auto img = s.value()->load();
      ASSERT_TRUE(img.ok()) << img.status().message();
      std::map<int, int> stored;
      for (const auto& rec : img->sessions)
        stored[std::stoi(rec.user.substr(1))] = std::stoi(rec.newest.id.substr(1));
      for (auto [usr, num] : acked) {
        ASSERT_TRUE(stored.count(usr)) << user(usr);
        // The child checkpoints further before each write; acknowledged <= stored.
        EXPECT_GE(stored[usr], num) << user(usr);
      }
      std::int64_t now = 0;
      core::EngineOptions eo;
      eo.clock = [&] { return now; };
      core::Engine e(eo);
      e.restore(*img);
      EXPECT_EQ(e.stats().sessions, static_cast<std::size_t>(kUsers));
    }
  }
}

}  // namespace
}  // namespace rpsync::store::testing
