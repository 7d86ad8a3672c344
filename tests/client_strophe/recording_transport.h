// SPDX-License-Identifier: MIT
// A Transport and Events that record what a Session does, and helpers that answer its
// requests, for the unit tests of client_strophe (no libstrophe, no network).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "client_strophe/session.h"
#include "protocol/xml.h"

namespace rpsync::strophe::testing {

class RecordingTransport final : public Transport {
 public:
  void send(const xml::Element& stanza) override { sent.push_back(stanza); }
  void disconnect() override { ++disconnects; }
  std::string new_id() override { return "id" + std::to_string(++next_); }

  // The last sent <iq/> whose payload is `name` in `ns`, or null.
  const xml::Element* last_iq(std::string_view name, std::string_view ns) const {
    for (auto it = sent.rbegin(); it != sent.rend(); ++it) {
      if (it->name() == "iq" && it->child(name, ns) != nullptr) return &*it;
    }
    return nullptr;
  }
  std::size_t count(std::string_view name, std::string_view ns) const {
    std::size_t n = 0;
    for (const auto& s : sent) n += s.name() == "iq" && s.child(name, ns) != nullptr;
    return n;
  }
  std::vector<const xml::Element*> presences() const {
    std::vector<const xml::Element*> out;
    for (const auto& s : sent) {
      if (s.name() == "presence") out.push_back(&s);
    }
    return out;
  }

  std::vector<xml::Element> sent;
  int disconnects = 0;

 private:
  int next_ = 0;
};

class RecordingEvents final : public Events {
 public:
  void synced(const client::SyncStats& s, const std::vector<client::PresenceChange>& c) override {
    synced_stats.push_back(s);
    synced_changes = c;
  }
  void full_resync(const client::FullResync& f) override { full_resyncs.push_back(f); }
  void presence(const client::PresenceChange& c) override { live.push_back(c); }
  void presence_sent(bool marked) override { sent_marked.push_back(marked); }
  void enabled(bool matched) override { enables.push_back(matched); }
  void roster(const client::CachedRoster& r, bool from_cache) override {
    rosters.push_back(r);
    roster_from_cache.push_back(from_cache);
  }

  std::vector<client::SyncStats> synced_stats;
  std::vector<client::PresenceChange> synced_changes;
  std::vector<client::FullResync> full_resyncs;
  std::vector<client::PresenceChange> live;
  std::vector<bool> sent_marked;
  std::vector<bool> enables;
  std::vector<client::CachedRoster> rosters;
  std::vector<bool> roster_from_cache;
};

// A manual clock for Options::now.
struct ManualClock {
  std::chrono::steady_clock::time_point t{std::chrono::hours(1)};
  void advance(std::chrono::milliseconds d) { t += d; }
};

// <iq type='result' id=`id` from=`from`> with `payload` (none when nullopt).
inline xml::Element result(const std::string& id, const std::string& from,
                           std::optional<xml::Element> payload = std::nullopt) {
  xml::Element iq("iq", "jabber:client");
  iq.set_attr("type", "result");
  iq.set_attr("id", id);
  if (!from.empty()) iq.set_attr("from", from);
  if (payload) iq.add(std::move(*payload));
  return iq;
}

}  // namespace rpsync::strophe::testing
