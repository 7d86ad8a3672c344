// SPDX-License-Identifier: MIT
// rpsync_loop_lag_bench: what storage costs the event loop, store calls inline (on the loop,
// as before the store worker) vs handed to a StoreWorker (plugin/store/store_worker.h),
// side by side in one run, in two situations:
//   fold   an SQLite store whose presence log holds N resources not yet folded: the first
//          commit folds them into the base (the largest single store call there is)
//   stall  a real redis-server (tests/harness) frozen with SIGSTOP for --stall-ms and
//          thawed again (SIGCONT), from a thread of its own, while the loop runs
//   steady SQLite without a fold (what a request costs: one commit or two)
// Modes: inline2 = store calls on the loop, a flush before each request and one after (the
// component before the worker; still so with [feed]), inline1 = on the loop, one flush
// per request (store.queue = 0 without [feed]), worker = the store worker (the default).
// The loop is an asio::io_context with the component's pattern of store traffic: a 5 ms
// probe timer (its lateness = the loop's pause), presence batches every 10 ms (256
// updates), and a "request" every 20 ms: a session row written and flushed, answered when
// the flush completes. Inline runs the request like the component before the worker did:
// a flush BEFORE the request (the store must work before the engine changes) and one
// after, both on the loop. The worker's request is one write + one flush, answered by the
// completion. A request whose flush fails, or that is answered after --timeout-ms, counts
// as not-ready (the component answers it so at the timeout); its latency is capped there.
// Run by hand (not a ctest): build/bin/rpsync_loop_lag_bench [--resources N] ...
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "plugin/store/async_store.h"
#include "plugin/store/store.h"
#include "plugin/store/store_worker.h"
#include "tests/harness/redis/redis_server.h"

namespace rpsync::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

struct Options {
  std::size_t resources = 1000000;
  Ms window{6000};
  Ms stall{2000};
  Ms timeout{1000};
};

struct Figures {
  double max_pause_ms = 0;
  std::vector<double> latency_ms;  // answered requests, capped at the timeout
  std::size_t not_ready = 0;
  std::size_t unanswered = 0;  // still waiting when the window ended
  std::size_t presence_batches = 0;
};

core::Mutation resource(std::size_t i, std::size_t v) {
  core::PutResource p;
  p.jid = "contact" + std::to_string(i) + "@example.test/r";
  p.fields.show = (v % 2) ? proto::Show::kAway : proto::Show::kNone;
  p.fields.status = "status " + std::to_string(v);
  p.fields.priority = static_cast<std::int8_t>(v % 10);
  return p;
}

core::Mutation session(std::size_t n) {
  core::PutSession s;
  s.session.user = "user" + std::to_string(n % 1000) + "@example.test";
  s.session.stream = "s" + std::to_string(n);
  s.session.resource = "phone";
  s.session.newest.id = "t" + std::to_string(n);
  return s;
}

// One window of the loop: probe, presence, requests against `storage`.
class Window {
 public:
  Window(asio::io_context& io, store::AsyncStore& storage, bool inline_store, const Options& o,
         std::size_t resources)
      : io_(io), storage_(storage), inline_(inline_store), o_(o), n_(resources) {}

  Figures run() {
    const auto start = Clock::now();
    every(Ms(5), [](Clock::time_point) {});
    every(Ms(10), [this](Clock::time_point) { presence(); });
    every(Ms(20), [this](Clock::time_point due) { request(due); });
    io_.run_until(start + o_.window);
    f_.unanswered = waiting_;
    return f_;
  }

 private:
  void every(Ms period, std::function<void(Clock::time_point)> work) {
    auto timer = std::make_shared<asio::steady_timer>(io_);
    auto arm = std::make_shared<std::function<void(Clock::time_point)>>();
    *arm = [this, timer, period, work, arm](Clock::time_point due) {
      timer->expires_at(due);
      timer->async_wait([this, due, period, work, arm](std::error_code ec) {
        if (ec) return;
        const double late = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
        f_.max_pause_ms = std::max(f_.max_pause_ms, late);
        // Everything due while the loop was paused runs now, each with its own due time
        // (a request that arrived during a pause waited for it: counted, not skipped).
        auto next = due;
        for (; next <= Clock::now(); next += period) work(next);
        (*arm)(next);
      });
    };
    (*arm)(Clock::now() + period);
    arms_.push_back(arm);
  }

  void presence() {
    core::Batch b;
    for (int i = 0; i < 256; ++i) b.push_back(resource(rng_() % n_, ++version_));
    if (storage_.write(std::move(b), {})) ++f_.presence_batches;
  }

  void request(Clock::time_point due) {
    auto answered = [this, due](const Status& s) {
      --waiting_;
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - due).count();
      const double cap = static_cast<double>(o_.timeout.count());
      if (!s || ms > cap) ++f_.not_ready;
      f_.latency_ms.push_back(std::min(ms, cap));
    };
    ++waiting_;
    if (inline_) {  // the old order: the store must work before the engine changes
      Status before;
      storage_.flush([&before](const Status& s) { before = s; });
      if (!before) return answered(before);
    }
    if (!storage_.write({session(++requests_)}, {}))
      return answered(Status::unavailable("queue full"));
    storage_.flush(answered);
  }

  asio::io_context& io_;
  store::AsyncStore& storage_;
  bool inline_;
  const Options& o_;
  std::size_t n_;
  Figures f_;
  std::size_t waiting_ = 0;
  std::size_t requests_ = 0;
  std::size_t version_ = 0;
  std::mt19937_64 rng_{42};
  std::vector<std::shared_ptr<std::function<void(Clock::time_point)>>> arms_;
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "rpsync_loop_lag_bench: %s\n", why.c_str());
  std::exit(2);
}

// Runs a window with `store` inline or behind a worker.
enum class Mode { kInline2, kInline1, kWorker };
constexpr Mode kModes[] = {Mode::kInline2, Mode::kInline1, Mode::kWorker};
const char* name(Mode m) {
  return m == Mode::kInline2 ? "inline2" : m == Mode::kInline1 ? "inline1" : "worker";
}

Figures measure(store::Store& store, Mode mode, const Options& o, std::size_t resources) {
  asio::io_context io;
  if (mode != Mode::kWorker) {
    store::InlineStore inline_store(store);
    return Window(io, inline_store, mode == Mode::kInline2, o, resources).run();
  }
  store::StoreWorker w(store, {256, Ms(60000)},
                       [&io](std::function<void()> f) { asio::post(io, std::move(f)); });
  Figures f = Window(io, w, false, o, resources).run();
  (void)w.flush_and_wait(Ms(60000));  // what the window left, before the store goes
  return f;
}

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

void print(const char* situation, const char* mode, const Figures& f) {
  std::printf(
      "%-6s %-7s max_loop_pause_ms=%8.1f sync_p50_ms=%7.1f sync_p99_ms=%7.1f requests=%zu "
      "not_ready=%zu unanswered=%zu presence_batches=%zu\n",
      situation, mode, f.max_pause_ms, pct(f.latency_ms, 0.50), pct(f.latency_ms, 0.99),
      f.latency_ms.size(), f.not_ready, f.unanswered, f.presence_batches);
  std::fflush(stdout);
}

// An SQLite file whose log holds `n` resources, none folded yet (compact_min_log above n).
std::filesystem::path prepare_sqlite(const std::filesystem::path& dir, std::size_t n) {
  const auto path = dir / "template.db";
  store::StoreOptions so;
  so.compact_min_log = n * 4 + 1;
  auto opened = store::open_store("sqlite:" + path.string(), so);
  if (!opened.ok()) die(opened.status().message());
  auto& s = *opened.value();
  for (std::size_t i = 0; i < n;) {
    core::Batch b;
    for (std::size_t k = 0; k < 20000 && i < n; ++k, ++i) b.push_back(resource(i, 0));
    if (!s.write(b).ok()) die("preload write failed");
  }
  if (!s.flush().ok()) die("preload flush failed");
  return path;
}

// SQLite with `n` resources in its log: "steady" below compact_min_log (no fold), "fold"
// above (the first commit folds them all).
void sqlite(const char* situation, std::size_t n, const Options& o,
            const std::filesystem::path& dir) {
  const auto t0 = Clock::now();
  const auto base = prepare_sqlite(dir, n);
  std::printf("# %s: %zu resources in the log, prepared in %.1f s\n", situation, n,
              std::chrono::duration<double>(Clock::now() - t0).count());
  for (Mode mode : kModes) {
    const auto db = dir / (std::string(name(mode)) + ".db");
    for (const char* sfx : {"", "-wal"}) {
      std::error_code ec;
      std::filesystem::copy_file(base.string() + sfx, db.string() + sfx,
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
    auto opened = store::open_store("sqlite:" + db.string());  // default options: folds
    if (!opened.ok()) die(opened.status().message());
    print(situation, name(mode), measure(*opened.value(), mode, o, n));
  }
}

void stall(const Options& o) {
  std::string why;
  auto redis = test::RedisServer::start({}, &why);
  if (!redis) die("redis: " + why);
  for (Mode mode : kModes) {
    const std::string uri =
        redis->uri(0, name(mode)) + "&timeout_ms=" + std::to_string(o.timeout.count());
    auto opened = store::open_store(uri);
    if (!opened.ok()) die(opened.status().message());
    std::thread freezer([&] {
      std::this_thread::sleep_for(Ms(1000));
      redis->freeze();
      std::this_thread::sleep_for(o.stall);
      redis->thaw();
    });
    Figures f = measure(*opened.value(), mode, o, 10000);
    freezer.join();
    print("stall", name(mode), f);
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) die("missing value after " + a);
    const long v = std::strtol(argv[++i], nullptr, 10);
    if (v <= 0) die(a + " takes a positive number");
    if (a == "--resources")
      o.resources = static_cast<std::size_t>(v);
    else if (a == "--window-ms")
      o.window = Ms(v);
    else if (a == "--stall-ms")
      o.stall = Ms(v);
    else if (a == "--timeout-ms")
      o.timeout = Ms(v);
    else
      die("usage: rpsync_loop_lag_bench [--resources N=1000000] [--window-ms 6000] "
          "[--stall-ms 2000] [--timeout-ms 1000]");
  }
  return o;
}

}  // namespace
}  // namespace rpsync::bench

int main(int argc, char** argv) {
  using namespace rpsync::bench;
  const Options o = parse(argc, argv);
  const auto dir =
      std::filesystem::temp_directory_path() / ("rpsync-loop-lag-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("# window %lld ms, request timeout %lld ms, redis stall %lld ms\n",
              static_cast<long long>(o.window.count()), static_cast<long long>(o.timeout.count()),
              static_cast<long long>(o.stall.count()));
  sqlite("steady", 10000, o, dir);
  sqlite("fold", o.resources, o, dir);
  stall(o);
  std::filesystem::remove_all(dir);
  return 0;
}
