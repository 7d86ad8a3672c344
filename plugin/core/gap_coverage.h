// SPDX-License-Identifier: MIT
// Which contacts' presence was re-established after each gap of the component's view
// (spec "Continuity"): a key moment from before a gap stays answerable only when every
// contact of its view is on a domain whose presence was re-established at every gap
// since the moment (Engine::close_gap()).
//
// A gap is "closed" when the component reconnected and the server witnessed, per served
// host, that it re-sent the current presence of every session of that host
// (<sessions-sent/>). A contact on any other domain (a remote server, a host without the
// witness) is uncovered at that gap. State: per domain covered at least once, the last
// gap it was not covered at; O(served domains). Pure; one owner.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace rpsync::core {

class GapCoverage {
 public:
  using Domains = std::set<std::string, std::less<>>;
  // Gaps closed so far; a key moment records it when taken.
  std::uint64_t closed() const { return gaps_; }
  // A gap closed: the presence of every contact on `covered` was re-established.
  void close(const Domains& covered);
  // Whether the presence of contact `bare` was re-established at every gap closed after
  // a moment that recorded closed() == `since`.
  bool covered_since(std::string_view bare, std::uint64_t since) const;

 private:
  std::uint64_t gaps_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> last_uncovered_;
};

// The domain of a bare JID ("user@host" -> "host", "host" -> "host").
std::string_view domain_of_jid(std::string_view bare);

}  // namespace rpsync::core
