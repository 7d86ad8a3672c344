// SPDX-License-Identifier: MIT
#include "plugin/feed/continuity.h"

#include <map>

namespace rpsync::feed {
namespace {

// KEYS: inst:ID, since, last, gapfrom, grp, gepoch. ARGV: ID, ttl ms, force new run, group.
constexpr std::string_view kBeat = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fresh = ARGV[3] == '1' or redis.call('EXISTS', KEYS[1]) == 0
if fresh then
  redis.call('HSET', KEYS[4], ARGV[1], redis.call('HGET', KEYS[3], ARGV[1]) or '0')
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', now))
end
redis.call('HSET', KEYS[3], ARGV[1], string.format('%d', now))
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
redis.call('SET', KEYS[1], string.format('%d', now), 'PX', ARGV[2])
return {string.format('%d', now), redis.call('HGET', KEYS[2], ARGV[1]),
        redis.call('GET', KEYS[6]) or '0', fresh and 1 or 0}
)lua";

std::int64_t to_ms(const std::string& s) {
  return std::strtoll(s.c_str(), nullptr, 10);
}

Status bad(const std::string& what) {
  return Status::io_error("continuity: " + what);
}

}  // namespace

Verdict judge(std::string_view self, std::string_view observer_group, std::int64_t gap_from_ms,
              std::int64_t gap_to_ms, const std::vector<InstanceRun>& runs) {
  // A brand-new instance never observed before: all it must not hide is a moment with
  // nobody observing its server, so its "gap" is just its start.
  if (gap_from_ms <= 0) gap_from_ms = gap_to_ms;
  bool pending = false;
  for (const auto& r : runs) {
    if (r.instance == self || r.observer_group != observer_group) continue;
    if (r.since_ms > gap_from_ms) continue;  // its run began inside our gap
    if (r.last_ms >= gap_to_ms) return Verdict::kKept;
    if (r.alive) pending = true;
  }
  return pending ? Verdict::kPending : Verdict::kLost;
}

GroupContinuity::GroupContinuity(store::RedisTarget target, std::string instance,
                                 std::string observer_group, std::int64_t ttl_ms)
    : link_(std::move(target)),
      instance_(std::move(instance)),
      group_(std::move(observer_group)),
      ttl_ms_(ttl_ms) {}

std::string GroupContinuity::key(std::string_view what) const {
  return link_.target().prefix + ":{meta}:" + std::string(what);
}

StatusOr<Beat> GroupContinuity::beat() {
  auto r = link_.run({"EVAL", std::string(kBeat), "6", key("inst:" + instance_), key("since"),
                      key("last"), key("gapfrom"), key("grp"), key("gepoch"), instance_,
                      std::to_string(ttl_ms_), first_ ? "1" : "0", group_});
  if (!r.ok()) return r.status();
  const Value& v = r.value();
  if (v.error() || !v.array() || v.elements.size() != 4) return bad("beat failed: " + v.str);
  first_ = false;
  Beat b;
  b.now_ms = to_ms(v.elements[0].str);
  b.since_ms = to_ms(v.elements[1].str);
  b.group_epoch = std::strtoull(v.elements[2].str.c_str(), nullptr, 10);
  b.new_run = v.elements[3].integer == 1;
  b.decide = undecided_;
  return b;
}

Status GroupContinuity::end_run() {
  // Set before the DEL: when Redis is unreachable the run must still end here (else a
  // beat within the ttl would continue it across the gap and ask for no decision).
  first_ = true;
  undecided_ = true;
  auto r = link_.run({"DEL", key("inst:" + instance_)});
  if (!r.ok()) return r.status();
  return Status{};
}

StatusOr<std::uint64_t> GroupContinuity::group_epoch() {
  auto r = link_.run({"GET", key("gepoch")});
  if (!r.ok()) return r.status();
  if (r.value().error()) return bad(r.value().str);
  return std::strtoull(r.value().str.c_str(), nullptr, 10);
}

StatusOr<Decision> GroupContinuity::decide() {
  auto r = link_.run_all({{"HGETALL", key("since")},
                          {"HGETALL", key("last")},
                          {"HGETALL", key("grp")},
                          {"HGET", key("gapfrom"), instance_},
                          {"GET", key("gepoch")}});
  if (!r.ok()) return r.status();
  const auto& v = r.value();
  for (const auto& x : v)
    if (x.error()) return bad(x.str);
  std::map<std::string, InstanceRun> by_id;
  auto fill = [&](const Value& h, auto set) {
    for (std::size_t i = 0; i + 1 < h.elements.size(); i += 2) {
      auto& run = by_id[h.elements[i].str];
      run.instance = h.elements[i].str;
      set(run, h.elements[i + 1].str);
    }
  };
  fill(v[0], [](InstanceRun& x, const std::string& s) { x.since_ms = to_ms(s); });
  fill(v[1], [](InstanceRun& x, const std::string& s) { x.last_ms = to_ms(s); });
  fill(v[2], [](InstanceRun& x, const std::string& s) { x.observer_group = s; });
  auto self = by_id.find(instance_);
  if (self == by_id.end() || first_) return bad("decide() before the first beat of this run");
  const std::int64_t gap_from = v[3].nil() ? 0 : to_ms(v[3].str);
  const std::int64_t gap_to = self->second.since_ms;

  std::vector<std::vector<std::string>> exists;
  std::vector<InstanceRun> runs;
  for (auto& [id, run] : by_id) {
    runs.push_back(run);
    exists.push_back({"EXISTS", key("inst:" + id)});
  }
  auto alive = link_.run_all(exists);
  if (!alive.ok()) return alive.status();
  for (std::size_t i = 0; i < runs.size(); ++i) runs[i].alive = alive.value()[i].integer == 1;

  Decision d;
  d.group_epoch = std::strtoull(v[4].str.c_str(), nullptr, 10);
  d.verdict = judge(instance_, group_, gap_from, gap_to, runs);
  if (d.verdict != Verdict::kPending) undecided_ = false;
  if (d.verdict == Verdict::kKept) {
    for (const auto& run : runs)
      if (run.instance != instance_ && run.observer_group == group_ &&
          run.since_ms <= (gap_from > 0 ? gap_from : gap_to) && run.last_ms >= gap_to)
        d.covered_by = run.instance;
  } else if (d.verdict == Verdict::kLost) {
    auto inc = link_.run({"INCR", key("gepoch")});
    if (!inc.ok()) return inc.status();
    if (inc.value().error()) return bad(inc.value().str);
    d.group_epoch = static_cast<std::uint64_t>(inc.value().integer);
  }
  return d;
}

}  // namespace rpsync::feed
