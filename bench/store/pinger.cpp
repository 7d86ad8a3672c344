// SPDX-License-Identifier: MIT
#include "bench/store/pinger.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "protocol/ns.h"
#include "protocol/xml.h"

namespace rpsync::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;
constexpr const char* kPrefix = "fp";

xml::Element ping(const std::string& to, const std::string& id) {
  xml::Element iq("iq");
  iq.set_attr("type", "get");
  iq.set_attr("to", to);
  iq.set_attr("id", id);
  iq.add(xml::Element("ping", std::string(ns::kPing)));
  return iq;
}

// The ping number of an answer to one of ours ("fp<n>"), nullopt for anything else.
std::optional<std::size_t> ping_number(const xml::Element& e) {
  if (e.name() != "iq") return std::nullopt;
  const auto type = e.attr("type");
  const auto id = e.attr("id");
  if (!type || (*type != "result" && *type != "error") || !id || id->rfind(kPrefix, 0) != 0)
    return std::nullopt;
  const std::string digits(id->substr(2));
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return static_cast<std::size_t>(std::stoull(digits));
}

}  // namespace

double PingFigures::percentile(int p) const {
  if (rtt_ms.empty()) return 0;
  const auto i =
      static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(rtt_ms.size())));
  return rtt_ms[std::min(rtt_ms.size() - 1, i == 0 ? 0 : i - 1)];
}

std::size_t PingFigures::over(double ms) const {
  const auto slow =
      static_cast<std::size_t>(rtt_ms.end() - std::upper_bound(rtt_ms.begin(), rtt_ms.end(), ms));
  return slow + (sent - answered);
}

PingFigures figures_of(const std::vector<PingRecord>& pings, double from_ms, double to_ms) {
  PingFigures f;
  for (const PingRecord& p : pings) {
    if (p.sent_ms < from_ms || p.sent_ms >= to_ms) continue;
    ++f.sent;
    if (p.rtt_ms < 0) continue;
    ++f.answered;
    f.errors += p.error ? 1 : 0;
    f.rtt_ms.push_back(p.rtt_ms);
  }
  std::sort(f.rtt_ms.begin(), f.rtt_ms.end());
  return f;
}

bool ping_round_trip(test::TestClient& c, const std::string& to, const std::string& id,
                     std::chrono::milliseconds timeout) {
  if (!c.send(ping(to, id))) return false;
  auto answer = c.wait_for(
      [&](const xml::Element& e) { return e.name() == "iq" && e.attr("id") == id; }, timeout);
  // The server answers for a component that is not connected: with an error.
  return answer && answer->attr("type") == "result";
}

void Pinger::send(std::size_t n) {
  pings_.push_back({std::chrono::duration<double, std::milli>(Clock::now() - start_).count()});
  ++out_;
  (void)c_.send(ping(to_, kPrefix + std::to_string(n)));
}

void Pinger::receive_until(Clock::time_point until) {
  for (auto now = Clock::now(); now < until; now = Clock::now()) {
    const auto left = std::chrono::duration_cast<Ms>(until - now);
    auto e = c_.next(std::max(Ms(1), left));
    if (!e) continue;
    const auto n = ping_number(*e);
    if (!n || *n >= pings_.size() || pings_[*n].rtt_ms >= 0) continue;
    PingRecord& p = pings_[*n];
    p.rtt_ms = std::chrono::duration<double, std::milli>(Clock::now() - start_).count() - p.sent_ms;
    p.error = e->attr("type") == "error";
    --out_;
  }
}

std::vector<PingRecord> Pinger::run(Ms interval, Ms window, Ms tail,
                                    const std::function<bool(Ms)>& step) {
  start_ = Clock::now();
  auto end = start_ + window;
  auto next_check = start_;
  auto next_ping = start_;
  for (std::size_t n = 0; Clock::now() < end; ++n) {
    send(n);
    next_ping += interval;
    if (next_ping < Clock::now()) next_ping = Clock::now();  // this thread fell behind
    if (Clock::now() >= next_check) {
      next_check = Clock::now() + Ms(250);
      const auto elapsed = std::chrono::duration_cast<Ms>(Clock::now() - start_);
      if (end - Clock::now() > tail && step(elapsed)) end = Clock::now() + tail;
    }
    receive_until(std::min(next_ping, end));
  }
  const auto drain_end = Clock::now() + Ms(5000);
  while (out_ > 0 && Clock::now() < drain_end)
    receive_until(std::min(drain_end, Clock::now() + Ms(50)));
  return pings_;
}

}  // namespace rpsync::bench
