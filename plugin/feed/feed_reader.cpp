// SPDX-License-Identifier: MIT
#include "plugin/feed/feed_reader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "plugin/feed/redis_link.h"

namespace rpsync::feed {
namespace {

using Clock = std::chrono::steady_clock;

// KEYS: stream, read hash, seq counter. ARGV: group.
// Returns {1 when created / 0 when it existed, id of the newest entry or '0-0'}.
constexpr std::string_view kPrepare = R"lua(
local created = 1
local ok = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '$', 'MKSTREAM')
if type(ok) == 'table' and ok.err then
  if not string.find(ok.err, 'BUSYGROUP') then return redis.error_reply(ok.err) end
  created = 0
else
  redis.call('HSET', KEYS[2], ARGV[1], redis.call('GET', KEYS[3]) or '0')
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local baseline = '0-0'
if #last > 0 then baseline = last[1][1] end
return {created, baseline}
)lua";

// KEYS: stream, read hash. ARGV: group, highest seq handled, ids to acknowledge...
constexpr std::string_view kAck = R"lua(
local n = 0
if #ARGV > 2 then n = redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3)) end
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return n
)lua";

struct Raw {
  std::string id;
  bool deleted = false;  // a pending entry trimmed away
  std::map<std::string, std::string> fields;
};

std::vector<Raw> parse_entries(const Value& list) {
  std::vector<Raw> out;
  if (!list.array()) return out;
  for (const auto& e : list.elements) {
    if (!e.array() || e.elements.empty()) continue;
    Raw r;
    r.id = e.elements[0].str;
    if (e.elements.size() < 2 || e.elements[1].nil()) {
      r.deleted = true;
    } else {
      const auto& f = e.elements[1].elements;
      for (std::size_t i = 0; i + 1 < f.size(); i += 2) r.fields[f[i].str] = f[i + 1].str;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// XREADGROUP reply: [[stream, entries]] or nil.
std::vector<Raw> parse_read(const Value& v) {
  if (!v.array() || v.elements.empty() || !v.elements[0].array() ||
      v.elements[0].elements.size() < 2)
    return {};
  return parse_entries(v.elements[0].elements[1]);
}

}  // namespace

struct FeedReader::Shared {
  store::RedisTarget target;
  ReaderOptions options;
  Executor executor;
  ApplyFn apply;
  GapFn on_gap;

  std::atomic<bool> stopping{false};
  std::mutex mu;  // guards the fields below and waits
  std::condition_variable cv;
  ReaderStats stats;
  bool ready = false;
  bool caught_up = false;
  std::string error;
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);

  void sleep_ms(int ms) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping.load(); });
  }
};

namespace {

// One apply task's outcome, shared between the reader thread and the owner's thread.
struct Job {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  bool done = false;
  bool cancelled = false;
  std::size_t applied = 0;
};

// The reader thread's state and steps.
class Worker {
 public:
  explicit Worker(FeedReader::Shared& s) : s_(s), link_(s.target), keys_(s.target.prefix) {
    last_applied_ = StreamId::parse(s.options.last_applied).value_or(StreamId{});
  }

  void run() {
    int backoff = s_.options.backoff_min_ms;
    bool recovered = false;
    auto last_claim = Clock::now();
    for (std::uint64_t round = 0; !s_.stopping && round < (1ull << 62); ++round) {
      std::string why;
      bool ok = true;
      if (!recovered) {
        ok = recover(why);
        if (ok) {
          recovered = true;
          last_claim = Clock::now();
        }
      } else if (Clock::now() - last_claim >=
                 std::chrono::milliseconds(s_.options.redeliver_after_ms)) {
        ok = claim(why);
        last_claim = Clock::now();
      } else {
        ok = read_new(why);
      }
      if (s_.stopping) break;
      if (ok) {
        backoff = s_.options.backoff_min_ms;
        set_state(true, {});
        continue;
      }
      recovered = false;
      set_state(false, why);
      {
        std::lock_guard lock(s_.mu);
        ++s_.stats.failures;
      }
      s_.sleep_ms(backoff);
      backoff = std::min(backoff * 2, s_.options.backoff_max_ms);
    }
  }

 private:
  void set_state(bool ready, std::string why) {
    std::lock_guard lock(s_.mu);
    s_.ready = ready;
    if (!ready) {
      s_.error = std::move(why);
      s_.caught_up = false;
    }
  }

  // Group present, position known, pending entries delivered again.
  bool recover(std::string& why) {
    auto created = FeedReader::prepare(s_.target, s_.options.instance);
    if (!created.ok()) {
      why = created.status().message();
      return false;
    }
    if (created.value().created && started_)
      gap("the consumer group of instance " + s_.options.instance +
          " was missing (Redis lost the feed)");
    started_ = true;
    auto pos = link_.run({"HGET", keys_.read(), s_.options.instance});
    if (!pos.ok()) {
      why = pos.status().message();
      return false;
    }
    expect_ = std::max<std::uint64_t>(
        expect_, pos.value().nil() ? 0 : std::strtoull(pos.value().str.c_str(), nullptr, 10));
    std::string from = "0";
    for (int pages = 0; pages < 1000000 && !s_.stopping; ++pages) {
      auto r = link_.run({"XREADGROUP", "GROUP", s_.options.instance, s_.options.instance, "COUNT",
                          std::to_string(s_.options.batch), "STREAMS", keys_.stream(), from});
      if (!r.ok()) {
        why = r.status().message();
        return false;
      }
      if (r.value().error()) {
        why = "feed: reading pending entries: " + r.value().str;
        link_.drop();
        return false;
      }
      auto entries = parse_read(r.value());
      if (entries.empty()) return true;
      from = entries.back().id;
      if (!process(entries, true, why)) return false;
    }
    return !s_.stopping;
  }

  bool read_new(std::string& why) {
    auto r = link_.run({"XREADGROUP", "GROUP", s_.options.instance, s_.options.instance, "COUNT",
                        std::to_string(s_.options.batch), "BLOCK",
                        std::to_string(s_.options.block_ms), "STREAMS", keys_.stream(), ">"},
                       s_.options.block_ms);
    if (!r.ok()) {
      why = r.status().message();
      return false;
    }
    if (r.value().error()) {
      why = "feed: XREADGROUP: " + r.value().str;  // NOGROUP: recover() re-creates it
      link_.drop();
      return false;
    }
    auto entries = parse_read(r.value());
    {
      std::lock_guard lock(s_.mu);
      s_.caught_up = entries.empty();
    }
    if (entries.empty()) return true;
    return process(entries, false, why);
  }

  bool claim(std::string& why) {
    std::string from = "0-0";
    for (int pages = 0; pages < 1000000 && !s_.stopping; ++pages) {
      auto r = link_.run({"XAUTOCLAIM", keys_.stream(), s_.options.instance, s_.options.instance,
                          std::to_string(s_.options.redeliver_after_ms), from, "COUNT",
                          std::to_string(s_.options.batch)});
      if (!r.ok()) {
        why = r.status().message();
        return false;
      }
      const Value& v = r.value();
      if (v.error() || !v.array() || v.elements.size() < 2) {
        why = "feed: XAUTOCLAIM: " + (v.error() ? v.str : std::string("unexpected reply"));
        link_.drop();
        return false;
      }
      auto entries = parse_entries(v.elements[1]);
      if (v.elements.size() >= 3 && v.elements[2].array() && !v.elements[2].elements.empty()) {
        // Pending entries trimmed before they were applied (Redis removed them from the
        // pending list already).
        gap(std::to_string(v.elements[2].elements.size()) +
            " pending feed entries were trimmed before this instance applied them");
      }
      if (!entries.empty() && !process(entries, true, why)) return false;
      from = v.elements[0].str;
      if (from == "0-0") return true;
    }
    return !s_.stopping;
  }

  void gap(std::string why) {
    {
      std::lock_guard lock(s_.mu);
      ++s_.stats.gaps;
    }
    auto alive = s_.alive;
    auto fn = s_.on_gap;
    s_.executor([alive, fn, why = std::move(why)] {
      if (*alive && fn) fn(why);
    });
  }

  // Per origin: the incarnation and highest counter of the writer ids applied.
  using Writers = std::map<std::string, std::pair<std::string, std::uint64_t>>;

  struct Item {
    const Raw* raw;
    Entry entry;
    bool apply = false;
  };

  // Handles a run of delivered entries in order: skips, applies, acknowledges.
  bool process(const std::vector<Raw>& raws, bool again, std::string& why) {
    std::vector<Item> items = sort_out(raws, again);
    std::size_t applied = 0;
    if (!apply_on_owner(items, applied, why)) return false;
    return acknowledge(items, applied, why);
  }

  // Decodes the entries and decides which to apply; reports what was lost (feed gaps).
  std::vector<Item> sort_out(const std::vector<Raw>& raws, bool again) {
    std::vector<Item> items;
    items.reserve(raws.size());
    std::uint64_t lost_from = 0, lost_to = 0;
    Writers batch_writers;
    for (const Raw& raw : raws) {
      Item it{&raw, {}, false};
      if (raw.deleted) {
        gap("pending feed entry " + raw.id + " was trimmed before this instance applied it");
        items.push_back(std::move(it));
        continue;
      }
      Entry& e = it.entry;
      e.id = raw.id;
      auto field = [&](const char* k) -> std::string {
        auto f = raw.fields.find(k);
        return f == raw.fields.end() ? std::string() : f->second;
      };
      e.seq = std::strtoull(field("seq").c_str(), nullptr, 10);
      e.origin = field("o");
      e.observer_group = field("g");
      e.writer = field("w");
      auto kind = kind_from(field("k"));
      if (!again && e.seq > expect_ + 1 && lost_from == 0) {
        lost_from = expect_ + 1;
        lost_to = e.seq - 1;
      }
      expect_ = std::max(expect_, e.seq);
      if (!kind || (e.kind = *kind, !decode_payload(field("p"), e))) {
        gap("feed entry " + raw.id + " cannot be decoded");
        items.push_back(std::move(it));
        continue;
      }
      it.apply = decide(e, again, batch_writers);
      items.push_back(std::move(it));
    }
    if (lost_from != 0)
      gap("feed entries " + std::to_string(lost_from) + ".." + std::to_string(lost_to) +
          " were trimmed before this instance read them");
    return items;
  }

  // Whether a decoded entry is applied (else it is counted as own or a duplicate).
  bool decide(const Entry& e, bool again, Writers& batch_writers) {
    const auto id = StreamId::parse(e.id).value_or(StreamId{});
    std::lock_guard lock(s_.mu);
    if (again) ++s_.stats.redelivered;
    if (e.origin == s_.options.instance) {
      ++s_.stats.own;
      last_applied_ = std::max(last_applied_, id);
    } else if (id <= last_applied_) {
      ++s_.stats.duplicates_by_id;
    } else if (duplicate_writer(writers_, e) || duplicate_writer(batch_writers, e)) {
      ++s_.stats.duplicates_by_writer;
    } else {
      remember_writer(batch_writers, e);  // a second copy in this same batch
      return true;
    }
    return false;
  }

  // Applies the entries to apply on the owner's thread, in order, and waits for the
  // outcome: `applied` is the length of the prefix apply() accepted. False when stopping.
  bool apply_on_owner(const std::vector<Item>& items, std::size_t& applied, std::string& why) {
    auto todo = std::make_shared<std::vector<Entry>>();
    for (const auto& it : items)
      if (it.apply) todo->push_back(it.entry);
    if (todo->empty()) return true;
    auto job = std::make_shared<Job>();
    auto alive = s_.alive;
    auto fn = s_.apply;
    s_.executor([job, todo, alive, fn] {
      {
        std::lock_guard lock(job->mu);
        if (job->cancelled || !*alive) return;
        job->started = true;
      }
      std::size_t n = 0;
      while (n < todo->size() && fn((*todo)[n])) ++n;
      std::lock_guard lock(job->mu);
      job->applied = n;
      job->done = true;
      job->cv.notify_all();
    });
    std::unique_lock lock(job->mu);
    for (int waits = 0; !job->done; ++waits) {
      if (s_.stopping && !job->started) {
        job->cancelled = true;
        why = "stopping";
        return false;
      }
      job->cv.wait_for(lock, std::chrono::milliseconds(50));
    }
    applied = job->applied;
    return true;
  }

  // Acknowledges everything handled: skipped ones and the applied prefix.
  bool acknowledge(const std::vector<Item>& items, std::size_t applied, std::string& why) {
    std::vector<std::string> ack = {"EVAL",       std::string(kAck),   "2", keys_.stream(),
                                    keys_.read(), s_.options.instance, "0"};
    std::uint64_t top = 0;
    std::size_t k = 0;
    bool refused = false;
    for (const auto& it : items) {
      if (it.apply) {
        if (k >= applied) {
          refused = true;
          break;  // not applied: stays pending, delivered again (nothing newer first)
        }
        ++k;
        std::lock_guard lock(s_.mu);
        ++s_.stats.applied;
        last_applied_ = std::max(last_applied_, StreamId::parse(it.raw->id).value_or(StreamId{}));
        remember_writer(writers_, it.entry);
      }
      ack.push_back(it.raw->id);
      top = std::max(top, it.entry.seq);
    }
    ack[6] = std::to_string(top);
    {
      std::lock_guard lock(s_.mu);
      s_.stats.last_applied = last_applied_.str();
    }
    auto r = link_.run(ack);
    if (!r.ok()) {
      why = r.status().message();
      return false;
    }
    if (r.value().error()) {
      why = "feed: acknowledging: " + r.value().str;
      link_.drop();
      return false;
    }
    if (refused) {
      why = "feed: apply refused entry " + items[applied].raw->id + "; delivering it again";
      return false;
    }
    return true;
  }

  // A writer id "INCARNATION:COUNTER" not newer than the last one applied from that origin.
  static bool duplicate_writer(const Writers& known, const Entry& e) {
    auto colon = e.writer.rfind(':');
    auto w = known.find(e.origin);
    if (colon == std::string::npos || w == known.end()) return false;
    return w->second.first == e.writer.substr(0, colon) &&
           std::strtoull(e.writer.c_str() + colon + 1, nullptr, 10) <= w->second.second;
  }
  static void remember_writer(Writers& known, const Entry& e) {
    auto colon = e.writer.rfind(':');
    if (colon == std::string::npos) return;
    known[e.origin] = {e.writer.substr(0, colon),
                       std::strtoull(e.writer.c_str() + colon + 1, nullptr, 10)};
  }

  FeedReader::Shared& s_;
  Link link_;
  FeedKeys keys_;
  StreamId last_applied_;
  std::uint64_t expect_ = 0;  // highest sequence number delivered to this group
  bool started_ = false;
  Writers writers_;
};

}  // namespace

StatusOr<FeedReader::Prepared> FeedReader::prepare(const store::RedisTarget& target,
                                                   std::string_view instance) {
  Link link(target);
  FeedKeys keys(target.prefix);
  auto r = link.run({"EVAL", std::string(kPrepare), "3", keys.stream(), keys.read(), keys.seq(),
                     std::string(instance)});
  if (!r.ok()) return r.status();
  if (r.value().error())
    return Status::io_error("feed: creating the consumer group: " + r.value().str);
  const Value& v = r.value();
  if (!v.array() || v.elements.size() != 2)
    return Status::io_error("feed: creating the consumer group: unexpected reply");
  return Prepared{v.elements[0].integer == 1, v.elements[1].str};
}

FeedReader::FeedReader(store::RedisTarget target, ReaderOptions options, Executor executor,
                       ApplyFn apply, GapFn on_gap)
    : shared_(std::make_shared<Shared>()) {
  shared_->target = std::move(target);
  shared_->options = std::move(options);
  shared_->executor = std::move(executor);
  shared_->apply = std::move(apply);
  shared_->on_gap = std::move(on_gap);
  shared_->stats.last_applied =
      StreamId::parse(shared_->options.last_applied).value_or(StreamId{}).str();
}

FeedReader::~FeedReader() {
  stop();
}

void FeedReader::start() {
  if (thread_.joinable()) return;
  shared_->stopping = false;
  // Tasks posted by an earlier run stay no-ops.
  shared_->alive = std::make_shared<std::atomic<bool>>(true);
  thread_ = std::thread([s = shared_] { Worker(*s).run(); });
}

void FeedReader::stop() {
  shared_->stopping = true;
  shared_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
  *shared_->alive = false;
}

ReaderStats FeedReader::stats() const {
  std::lock_guard lock(shared_->mu);
  return shared_->stats;
}

bool FeedReader::ready() const {
  std::lock_guard lock(shared_->mu);
  return shared_->ready;
}

bool FeedReader::caught_up() const {
  std::lock_guard lock(shared_->mu);
  return shared_->ready && shared_->caught_up;
}

std::string FeedReader::last_error() const {
  std::lock_guard lock(shared_->mu);
  return shared_->error;
}

}  // namespace rpsync::feed
