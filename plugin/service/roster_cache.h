// SPDX-License-Identifier: MIT
// What the service last learned of each user's roster from a versioned privileged roster
// get (mod_rpsync_gate, plugin/prosody): the contacts visible to the user (subscription
// `to` or `both`) and the server's version string for that roster.
//
// The cache never replaces a fetch: every request still asks the server, quoting the
// cached version, and only an answer "unchanged since that version" lets the cached list
// stand in for the full roster (Service::fetch_roster). So a cached roster is exactly as
// fresh as a fetched one.
//
// Bounded by the total number of contacts held (each user also costs 1, so users with
// empty rosters are bounded too); the least recently used users are evicted first. A
// roster larger than the whole budget is not kept. A budget of 0 disables the cache.
//
// Threading: single-threaded (the service's event loop).
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rpsync::service {

class RosterCache {
 public:
  // Shared so that a fetch in flight keeps the list it quoted the version of, even if the
  // entry is evicted meanwhile.
  using Visible = std::shared_ptr<const std::vector<std::string>>;
  struct Entry {
    std::string ver;
    Visible visible;
  };

  explicit RosterCache(std::size_t max_contacts) : budget_(max_contacts) {}

  // The user's entry, marked most recently used; nullopt if none.
  std::optional<Entry> find(std::string_view user);
  // Stores (replacing) the user's entry; evicts least recently used users until the total
  // fits. False (and nothing stored) if this roster alone exceeds the budget (always when
  // the cache is disabled).
  bool put(const std::string& user, Entry entry);
  void erase(std::string_view user);
  void clear();

  bool enabled() const { return budget_ > 0; }
  std::size_t users() const { return index_.size(); }
  std::size_t contacts() const { return used_; }  // including the 1 per user

 private:
  struct Node {
    std::string user;
    Entry entry;
  };
  using List = std::list<Node>;  // front = most recently used
  static std::size_t cost(const Entry& e) { return e.visible ? e.visible->size() + 1 : 1; }
  void drop(List::iterator it);

  std::size_t budget_;
  std::size_t used_ = 0;
  List lru_;
  std::map<std::string, List::iterator, std::less<>> index_;
};

}  // namespace rpsync::service
