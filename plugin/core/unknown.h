// SPDX-License-Identifier: MIT
// Resources whose presence the component could not read (a stanza skipped for a limit,
// protocol/xml.h): their real state is unknown from that moment until their next
// readable presence. The engine uses it to keep such a loss local (spec "Limits"):
// only keys whose view holds the contact are affected, never the whole component.
//
// Per contact (bare JID) it keeps the open interval: the engine version when its first
// resource became unknown and the set of resources still unknown. Bounded by the
// resources that sent an unreadable presence and nothing readable since.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace rpsync::core {

class UnknownPresence {
 public:
  // `jid`'s state is unknown from engine version `version` on (a bare JID stands for a
  // resource of its own, "").
  void open(std::string_view jid, std::uint64_t version);
  // A readable presence of `jid` (full; a bare JID makes every resource of the contact
  // known). When the contact has no unknown resource left, returns the version its
  // unknown interval began at: key moments taken since then saw a state the engine never
  // held.
  std::optional<std::uint64_t> close(std::string_view jid);
  bool empty() const { return contacts_.empty(); }
  std::size_t size() const { return contacts_.size(); }
  // Calls f(bare JID) for every contact with an unknown resource.
  void for_each(const std::function<void(std::string_view bare)>& f) const;

 private:
  struct Entry {
    std::uint64_t since = 0;
    std::set<std::string, std::less<>> resources;
  };
  std::map<std::string, Entry, std::less<>> contacts_;
};

// "user@host/res" -> {"user@host", "res"}; no slash -> {jid, ""}.
std::pair<std::string_view, std::string_view> split_jid(std::string_view jid);

}  // namespace rpsync::core
