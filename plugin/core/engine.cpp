// SPDX-License-Identifier: MIT
#include "plugin/core/engine.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>

#include "plugin/core/packed_fields.h"
#include "plugin/core/slot_pool.h"
#include "plugin/core/text_index.h"

namespace rpsync::core {
namespace {

// Rough wire sizes (bytes) for the too-large rule; see engine.h.
constexpr std::uint64_t kPresenceOverhead = 60;  // <presence from to id> + </presence>
constexpr std::uint64_t kUnavailableOverhead = 60;
constexpr std::uint64_t kCapsOverhead = 60;
constexpr std::uint64_t kDeltaContactOverhead = 20;
constexpr std::uint64_t kDeltaNewOverhead = 30;
constexpr std::uint64_t kDeltaChangedOverhead = 30;
constexpr std::uint64_t kDeltaUnsetOverhead = 20;
constexpr std::uint64_t kDeltaUnavailableOverhead = 25;
constexpr std::uint64_t kFieldOverhead = 15;

std::string session_key(std::string_view user, std::string_view stream, std::string_view resource) {
  std::string k;
  k.reserve(user.size() + stream.size() + resource.size() + 2);
  k.append(user).push_back('\0');
  k.append(stream).push_back('\0');
  k.append(resource);
  return k;
}

}  // namespace

struct Engine::Impl {
  struct Past {
    std::uint64_t since = 0;  // valid over [since, next state's since)
    bool avail = false;
    Packed fields;
  };
  // Field order keeps the flags in one padding slot (record size is the memory figure).
  struct Resource {
    Text jid;
    std::uint64_t since = 0;             // version of the last change; absent before if no history
    mutable proto::ResourceHash hash{};  // valid when avail && hashed
    Packed fields;
    std::uint32_t contact = kNone;
    std::uint32_t next = kNone;  // next resource of the same contact
    bool avail = false;
    bool used = false;
    mutable bool hashed = false;
    std::unique_ptr<std::vector<Past>> history;  // oldest first
  };
  // [[no_unique_address]] lets `first` and `count` live in the tail padding of the text
  // and the digest: 80 bytes per contact instead of 88 (record size is the memory figure).
  struct Contact {
    [[no_unique_address]] Text jid;
    std::uint32_t first = kNone;  // list of its resources through Resource::next
    [[no_unique_address]] mutable proto::StateDigest sum;  // available ones, valid when summed
    std::uint32_t count = 0;                               // available resources
    std::uint64_t cost = 0;  // estimated full-login bytes of the available resources
    std::uint64_t changed = 0;
    std::uint32_t roster_refs = 0;
    bool used = false;
    mutable bool summed = true;
  };
  static_assert(sizeof(Contact) <= 80, "a contact record grew");
  struct Roster {
    std::vector<std::uint32_t> members;  // contact ids, sorted, unique
    std::uint64_t hash = 0;
    std::uint32_t refs = 0;
    bool used = false;
  };
  struct Moment {
    std::string id;
    std::uint64_t version = 0;
    std::uint64_t epoch = 0;
    std::uint32_t roster = kNone;  // kNone: empty roster
    std::int64_t at_ms = 0;
    bool valid = false;                        // taken in this process and epoch; counted in `live`
    bool restored = false;                     // loaded by restore(), not taken again since
    std::optional<proto::StateDigest> digest;  // the user's view when it was taken
  };
  struct Session {
    std::string user, stream, resource;
    Moment newest;
    std::optional<Moment> previous;
    std::uint64_t seq = 0;  // order of the last move, for eviction
  };
  struct User {
    std::uint32_t roster = kNone;
    std::vector<std::string> sessions;  // session keys
  };
  EngineOptions opt;
  std::uint64_t version = 0;
  std::uint64_t epoch = 1;
  std::uint64_t horizon = 0;  // history is complete for moments >= horizon
  std::uint64_t seq = 0;

  FieldTable packer;  // packs resource fields, interns their caps

  SlotPool<Resource, std::deque<Resource>> res;
  FlatIndex res_index;
  struct ResKey {
    const SlotPool<Resource, std::deque<Resource>>* res;
    std::string_view operator()(std::uint32_t id) const { return (*res)[id].jid.view(); }
  } res_key{&res};
  std::size_t available = 0;
  std::size_t history_entries = 0;
  std::unordered_set<std::uint32_t> unconfirmed;  // resync: available, not seen again yet
  // resync: JIDs observed since begin_resync() (full, or bare for a bare unavailable).
  // By name, not id: a resource taken offline may be erased and its id reused.
  bool resyncing = false;
  std::unordered_set<std::string> touched;

  SlotPool<Contact, std::deque<Contact>> contacts;
  FlatIndex contact_index;
  struct ContactKey {
    const SlotPool<Contact, std::deque<Contact>>* contacts;
    std::string_view operator()(std::uint32_t id) const { return (*contacts)[id].jid.view(); }
  } contact_key{&contacts};

  SlotPool<Roster> rosters;
  std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> roster_index;

  StrMap<User> users;
  StrMap<Session> sessions;
  std::multiset<std::uint64_t> live;  // versions of the current epoch's key moments

  std::deque<std::pair<std::uint64_t, std::uint32_t>> tomb_q;  // (went offline at, rid)
  std::deque<std::pair<std::uint64_t, std::uint32_t>> hist_q;  // (history entry ends at, rid)

  Batch journal;
  UnknownPresence unknown;  // resources whose presence could not be read

  explicit Impl(EngineOptions o) : opt(std::move(o)) {}

  // ---------- packed fields ----------
  std::uint64_t field_bytes(const Packed& p) const {
    std::uint64_t n = p.text.size() + 4;  // priority digits
    if (p.show != proto::Show::kNone) n += 4 + kFieldOverhead;
    if (p.caps != kNone) {
      const auto& c = packer.caps(p.caps);
      n += kCapsOverhead + c.hash.size() + c.node.size() + c.ver.size();
    }
    return n;
  }
  std::uint64_t presence_cost(const Resource& r) const {
    return kPresenceOverhead + 2 * r.jid.size() + field_bytes(r.fields);
  }
  // ---------- key moments ----------
  // Is there a live key moment v with lo <= v < hi?
  bool live_in(std::uint64_t lo, std::uint64_t hi) const {
    auto it = live.lower_bound(lo);
    return it != live.end() && *it < hi;
  }
  std::uint64_t min_live() const { return live.empty() ? version + 1 : *live.begin(); }

  Moment take_moment(std::string_view id, std::uint32_t roster) {
    Moment m;
    m.id = std::string(id);
    m.version = version;
    m.epoch = epoch;
    m.roster = roster;
    ref_roster(m.roster);
    m.at_ms = opt.clock();
    m.valid = true;
    m.digest = digest_of_roster(roster);
    live.insert(m.version);
    return m;
  }
  void release(Moment& m) {
    if (m.valid) live.erase(live.find(m.version));
    m.valid = false;
    unref_roster(m.roster);
    m.roster = kNone;
  }
  // After a gap a moment can never answer again: it stops holding history and roster.
  void invalidate(Moment& m) {
    m.valid = false;
    unref_roster(m.roster);
    m.roster = kNone;
  }

  // ---------- contacts ----------
  std::uint32_t contact_of(std::string_view bare) {
    if (std::uint32_t id = contact_index.find(bare, contact_key); id != kNone) return id;
    const std::uint32_t id = contacts.acquire();
    contacts[id].jid = Text(bare);
    contacts[id].used = true;
    contact_index.insert(bare, id);
    return id;
  }
  void maybe_free_contact(std::uint32_t id) {
    Contact& c = contacts[id];
    if (c.roster_refs != 0 || c.first != kNone) return;
    contact_index.erase(c.jid.view(), contact_key);
    contacts.release(id);
  }

  // ---------- rosters ----------
  static std::uint64_t hash_members(const std::vector<std::uint32_t>& m) {
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint32_t x : m) h = (h ^ x) * 1099511628211ull;
    return h ^ m.size();
  }
  void ref_roster(std::uint32_t id) {
    if (id != kNone) ++rosters[id].refs;
  }
  void unref_roster(std::uint32_t id) {
    if (id == kNone) return;
    Roster& r = rosters[id];
    if (--r.refs != 0) return;
    auto& bucket = roster_index[r.hash];
    bucket.erase(std::find(bucket.begin(), bucket.end(), id));
    if (bucket.empty()) roster_index.erase(r.hash);
    std::vector<std::uint32_t> members = std::move(r.members);
    rosters.release(id);
    for (std::uint32_t c : members) {
      --contacts[c].roster_refs;
      maybe_free_contact(c);
    }
  }
  // Returns the interned roster for `members` (sorted, unique) without taking a reference.
  std::uint32_t intern_roster(std::vector<std::uint32_t> members) {
    std::uint64_t h = hash_members(members);
    auto& bucket = roster_index[h];
    for (std::uint32_t id : bucket)
      if (rosters[id].members == members) return id;
    const std::uint32_t id = rosters.acquire();
    for (std::uint32_t c : members) ++contacts[c].roster_refs;
    rosters[id] = Roster{std::move(members), h, 0, true};
    bucket.push_back(id);
    return id;
  }
  const std::vector<std::uint32_t>& members_of(std::uint32_t roster) const {
    static const std::vector<std::uint32_t> kEmpty;
    return roster == kNone ? kEmpty : rosters[roster].members;
  }

  // ---------- resources ----------
  std::uint32_t new_resource(std::string_view full) {
    std::uint32_t contact = contact_of(proto::bare_of(full));
    const std::uint32_t id = res.acquire();
    Resource& r = res[id];
    r.jid = Text(full);
    r.contact = contact;
    r.used = true;
    r.next = contacts[contact].first;
    contacts[contact].first = id;
    res_index.insert(full, id);
    return id;
  }
  void erase_resource(std::uint32_t id) {
    if (!unconfirmed.empty()) unconfirmed.erase(id);  // the id may be reused
    Resource& r = res[id];
    packer.release(r.fields);
    if (r.history) {
      for (Past& p : *r.history) packer.release(p.fields);
      history_entries -= r.history->size();
    }
    Contact& c = contacts[r.contact];
    if (c.first == id) {
      c.first = r.next;
    } else {
      std::uint32_t prev = c.first;
      while (res[prev].next != id) prev = res[prev].next;
      res[prev].next = r.next;
    }
    std::uint32_t contact = r.contact;
    res_index.erase(r.jid.view(), res_key);
    res.release(id);
    maybe_free_contact(contact);
  }
  // Before changing r at version `version`: keep its current state if a live moment
  // lies in [r.since, version).
  void push_history(std::uint32_t id) {
    Resource& r = res[id];
    drop_unneeded(id);
    if (!live_in(r.since, version)) {
      packer.release(r.fields);
      return;
    }
    if (!r.history) r.history = std::make_unique<std::vector<Past>>();
    r.history->push_back(Past{r.since, r.avail, std::move(r.fields)});
    r.fields = Packed{};
    ++history_entries;
    hist_q.emplace_back(version, id);
  }
  // Drops every past state no live moment lies in (not only those older than the oldest
  // key: one long-lived key must not pin the history of every later change).
  void drop_unneeded(std::uint32_t id) {
    Resource& r = res[id];
    if (!r.history) return;
    auto& h = *r.history;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < h.size(); ++i) {
      const std::uint64_t end = i + 1 < h.size() ? h[i + 1].since : r.since;
      if (live_in(h[i].since, end)) {
        if (kept != i) h[kept] = std::move(h[i]);
        ++kept;
      } else {
        packer.release(h[i].fields);
      }
    }
    history_entries -= h.size() - kept;
    h.resize(kept);
    if (h.empty()) r.history.reset();
  }
  // A record that is offline now and was offline at every live moment is not needed.
  bool needed_offline(const Resource& r) const {
    if (r.avail || !r.history) return r.avail;
    for (const Past& p : *r.history)
      if (p.avail) return true;
    return false;
  }
  // Full pass (from expire()): precise pruning of history and tombstones.
  void sweep() {
    for (std::size_t i = 0; i < res.slots(); ++i) {
      const auto id = static_cast<std::uint32_t>(i);
      if (!res[id].used || !res[id].history) continue;
      drop_unneeded(id);
      if (!needed_offline(res[id])) erase_resource(id);
    }
  }
  void prune_history(std::uint32_t id, std::uint64_t min) {
    Resource& r = res[id];
    if (!r.used || !r.history) return;
    auto& h = *r.history;
    std::size_t drop = 0;
    while (drop < h.size()) {
      std::uint64_t end = drop + 1 < h.size() ? h[drop + 1].since : r.since;
      if (end > min) break;
      packer.release(h[drop].fields);
      ++drop;
    }
    h.erase(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(drop));
    history_entries -= drop;
    if (h.empty()) r.history.reset();
  }
  // State of r at version v: nullptr when absent, else its fields.
  const Packed* state_at(const Resource& r, std::uint64_t v) const {
    if (r.since <= v) return r.avail ? &r.fields : nullptr;
    if (r.history)
      for (auto it = r.history->rbegin(); it != r.history->rend(); ++it)
        if (it->since <= v) return it->avail ? &it->fields : nullptr;
    return nullptr;  // created after v
  }

  void compact() {
    std::uint64_t min = min_live();
    while (!tomb_q.empty() && tomb_q.front().first <= min) {
      auto [at, id] = tomb_q.front();
      tomb_q.pop_front();
      Resource& r = res[id];
      if (r.used && !r.avail && r.since == at) erase_resource(id);
    }
    while (!hist_q.empty() && hist_q.front().first <= min) {
      std::uint32_t id = hist_q.front().second;
      hist_q.pop_front();
      prune_history(id, min);
    }
  }

  void set_available(std::uint32_t id, Packed fields) {
    Resource& r = res[id];
    r.fields = std::move(fields);
    r.hashed = false;
    r.avail = true;
    r.since = version;
    Contact& c = contacts[r.contact];
    c.summed = false;
    ++c.count;
    c.cost += presence_cost(r);
    c.changed = version;
    ++available;
  }
  // Subtracts r's current (available) state from its contact's sums.
  void unaccount(const Resource& r) {
    Contact& c = contacts[r.contact];
    c.summed = false;
    --c.count;
    c.cost -= presence_cost(r);
    --available;
  }

  void observe_available(std::string_view full, const proto::PresenceFields& f) {
    std::uint32_t id = res_index.find(full, res_key);
    if (id != kNone && !unconfirmed.empty()) unconfirmed.erase(id);
    Packed fields;
    if (id != kNone) {
      Resource& r = res[id];
      if (r.avail && packer.same(r.fields, f)) return;
      fields = packer.pack(f, r.fields.caps);  // before push_history may release the old caps
      ++version;
      if (r.avail) unaccount(r);
      push_history(id);
    } else {
      fields = packer.pack(f);
      ++version;
      id = new_resource(full);
    }
    set_available(id, std::move(fields));
    if (opt.journal) journal.emplace_back(PutResource{std::string(full), f});
    compact();
  }

  void go_offline(std::uint32_t id) {
    if (!unconfirmed.empty()) unconfirmed.erase(id);
    ++version;
    Resource& r = res[id];
    unaccount(r);
    push_history(id);
    r.fields = Packed{};
    r.avail = false;
    r.since = version;
    contacts[r.contact].changed = version;
    if (opt.journal) journal.emplace_back(EraseResource{std::string(r.jid.view())});
    if (needed_offline(r))
      tomb_q.emplace_back(version, id);
    else
      erase_resource(id);
  }

  void observe_unavailable(std::string_view full) {
    std::uint32_t id = res_index.find(full, res_key);
    if (id != kNone) {
      if (!res[id].avail) return;
      go_offline(id);
    } else if (full.find('/') == std::string_view::npos) {
      // Unavailable from a bare JID: the whole contact is offline.
      std::uint32_t cid = contact_index.find(full, contact_key);
      if (cid == kNone) return;
      std::vector<std::uint32_t> online;
      for (std::uint32_t rid = contacts[cid].first; rid != kNone; rid = res[rid].next)
        if (res[rid].avail) online.push_back(rid);
      for (std::uint32_t rid : online) go_offline(rid);
    }
    compact();
  }

  void clear_presence() {
    for (std::uint32_t id = 0; id < res.slots(); ++id)
      if (res[id].used && res[id].avail) go_offline(id);
    compact();
  }

  void set_roster(std::string_view user, const std::vector<std::string>& visible, bool record) {
    std::vector<std::uint32_t> members;
    members.reserve(visible.size());
    for (const auto& v : visible) members.push_back(contact_of(v));
    std::sort(members.begin(), members.end());
    members.erase(std::unique(members.begin(), members.end()), members.end());
    auto uit = users.find(user);
    if (uit == users.end()) {
      if (members.empty()) return;
      uit = users.emplace(std::string(user), User{}).first;
    }
    User& u = uit->second;
    std::uint32_t id = members.empty() ? kNone : intern_roster(std::move(members));
    if (id == u.roster) return;
    ref_roster(id);
    unref_roster(u.roster);
    u.roster = id;
    if (record && opt.journal) {
      PutRoster m{std::string(user), {}};
      for (std::uint32_t c : members_of(id)) m.contacts.emplace_back(contacts[c].jid.view());
      journal.emplace_back(std::move(m));
    }
    maybe_free_user(uit);
  }
  void maybe_free_user(StrMap<User>::iterator it) {
    if (it->second.roster == kNone && it->second.sessions.empty()) users.erase(it);
  }

  // ---------- unreadable presence ----------
  bool in_roster(std::uint32_t roster, std::uint32_t cid) const {
    const auto& members = members_of(roster);
    return std::binary_search(members.begin(), members.end(), cid);
  }
  // Whether a contact with an unknown resource is in either roster.
  bool touches_unknown(std::uint32_t a, std::uint32_t b) const {
    if (unknown.empty()) return false;
    bool hit = false;
    unknown.for_each([&](std::string_view bare) {
      std::uint32_t cid = contact_index.find(bare, contact_key);
      if (!hit && cid != kNone) hit = in_roster(a, cid) || in_roster(b, cid);
    });
    return hit;
  }
  // A readable presence of `jid`: when its contact is fully known again, every key moment
  // taken while it was not, whose view holds it, recorded a state the engine never held.
  void known_again(std::string_view jid) {
    auto since = unknown.close(jid);
    if (!since) return;
    std::uint32_t cid = contact_index.find(split_jid(jid).first, contact_key);
    if (cid == kNone) return;
    for (auto& [key, s] : sessions) {
      bool changed = false;
      auto drop = [&](Moment& mo) {
        if (!mo.valid || mo.version < *since || !in_roster(mo.roster, cid)) return;
        release(mo);
        mo.digest.reset();
        mo.restored = false;
        changed = true;
      };
      drop(s.newest);
      if (s.previous) drop(*s.previous);
      if (changed) journal_put(s);
    }
  }

  void gap() {
    ++epoch;
    live.clear();
    for (auto& [key, s] : sessions) {
      invalidate(s.newest);
      if (s.previous) invalidate(*s.previous);
    }
    if (opt.journal) journal.emplace_back(PutEpoch{epoch});
    compact();
  }

  // ---------- sessions ----------
  SessionRecord record_of(const Session& s) const {
    SessionRecord r{s.user,
                    s.stream,
                    s.resource,
                    {s.newest.id, s.newest.epoch, s.newest.at_ms, s.newest.digest},
                    std::nullopt};
    if (s.previous)
      r.previous =
          TxnRecord{s.previous->id, s.previous->epoch, s.previous->at_ms, s.previous->digest};
    return r;
  }
  void journal_put(const Session& s) {
    if (opt.journal) journal.emplace_back(PutSession{record_of(s)});
  }
  bool expired(const Session& s) const {
    return opt.clock() - s.newest.at_ms >= std::int64_t{opt.lifetime_s} * 1000;
  }
  void erase_session(StrMap<Session>::iterator it) {
    Session& s = it->second;
    release(s.newest);
    if (s.previous) release(*s.previous);
    if (opt.journal) journal.emplace_back(EraseSession{s.user, s.stream, s.resource});
    auto uit = users.find(s.user);
    auto& list = uit->second.sessions;
    list.erase(std::find(list.begin(), list.end(), it->first));
    sessions.erase(it);
    maybe_free_user(uit);
  }
  // Creates or resets the session and returns it; evicts beyond the per-user bound.
  Session& open_session(std::string_view user, std::string_view stream, std::string_view resource,
                        std::string_view iq_id) {
    auto uit = users.find(user);
    if (uit == users.end()) uit = users.emplace(std::string(user), User{}).first;
    std::string key = session_key(user, stream, resource);
    auto sit = sessions.find(key);
    if (sit == sessions.end()) {
      Session s;
      s.user = std::string(user);
      s.stream = std::string(stream);
      s.resource = std::string(resource);
      uit->second.sessions.push_back(key);
      sit = sessions.emplace(key, std::move(s)).first;
    } else {
      release(sit->second.newest);
      if (sit->second.previous) release(*sit->second.previous);
      sit->second.previous.reset();
    }
    sit->second.newest = take_moment(iq_id, uit->second.roster);
    sit->second.seq = ++seq;
    while (uit->second.sessions.size() > std::max<std::size_t>(opt.max_sessions_per_user, 1)) {
      StrMap<Session>::iterator oldest = sessions.end();
      for (const auto& k : uit->second.sessions) {
        auto it = sessions.find(k);
        if (it != sit && (oldest == sessions.end() || it->second.seq < oldest->second.seq))
          oldest = it;
      }
      erase_session(oldest);
    }
    journal_put(sit->second);
    return sit->second;
  }

  // ---------- savepoint (undo a request the store could not make durable) ----------
  struct Savepoint {
    bool active = false;
    std::string user;
    std::vector<std::string> order;  // the user's session keys, in order
    std::vector<Session> sessions;   // copies; their moments hold roster refs and `live`
  } savepoint;
  // A copy of a moment keeps what the original kept alive (roster, history via `live`).
  void hold(const Moment& m) {
    ref_roster(m.roster);
    if (m.valid) live.insert(m.version);
  }
  void save_sessions(std::string_view user) {
    drop_savepoint();
    savepoint.active = true;
    savepoint.user = std::string(user);
    auto uit = users.find(user);
    if (uit == users.end()) return;
    savepoint.order = uit->second.sessions;
    for (const auto& key : savepoint.order) {
      const Session& s = sessions.find(key)->second;
      hold(s.newest);
      if (s.previous) hold(*s.previous);
      savepoint.sessions.push_back(s);
    }
  }
  void drop_savepoint() {
    for (Session& s : savepoint.sessions) {
      release(s.newest);
      if (s.previous) release(*s.previous);
    }
    savepoint = Savepoint{};
  }
  void rollback_sessions() {
    if (!savepoint.active) return;
    if (auto uit = users.find(savepoint.user); uit != users.end()) {
      const std::vector<std::string> keys = uit->second.sessions;
      for (const auto& key : keys) erase_session(sessions.find(key));
    }
    if (!savepoint.sessions.empty()) {
      auto uit = users.find(savepoint.user);
      if (uit == users.end()) uit = users.emplace(savepoint.user, User{}).first;
      uit->second.sessions = savepoint.order;
      for (Session& s : savepoint.sessions) {
        journal_put(s);
        std::string key = session_key(s.user, s.stream, s.resource);
        sessions.emplace(std::move(key), std::move(s));  // takes over the copy's holds
      }
    }
    savepoint = Savepoint{};
    compact();
  }

  // Hashes are computed on demand: ingest only marks them stale, so a resource that
  // changes many times between two digests is hashed once.
  const proto::StateDigest& sum_of_contact(std::uint32_t cid) const {
    const Contact& c = contacts[cid];
    if (!c.summed) {
      c.sum = proto::StateDigest{};
      for (std::uint32_t rid = c.first; rid != kNone; rid = res[rid].next) {
        const Resource& r = res[rid];
        if (!r.avail) continue;
        if (!r.hashed) {
          r.hash = proto::resource_hash(r.jid.view(), packer.unpack(r.fields));
          r.hashed = true;
        }
        c.sum.add(r.hash);
      }
      c.summed = true;
    }
    return c.sum;
  }
  // The sum's count is the contacts' `count`: a summed contact holds one term per
  // available resource.
  proto::StateDigest digest_of_roster(std::uint32_t roster) const {
    proto::StateDigest s;
    for (std::uint32_t c : members_of(roster)) s.add(sum_of_contact(c));
    return s;
  }
  proto::StateDigest digest_of_user(std::string_view user) const {
    auto it = users.find(user);
    if (it == users.end()) return {};
    return digest_of_roster(it->second.roster);
  }

  // The delta for moment m to the user's current roster `now`; `cost`/`full` receive the
  // estimated wire sizes of the delta and of a normal login.
  proto::Delta compute(const Moment& m, std::uint32_t now, std::uint64_t& cost,
                       std::uint64_t& full) const {
    proto::Delta d;
    const auto& r0 = members_of(m.roster);
    const auto& r1 = members_of(now);
    const std::uint64_t v = m.version;
    cost = 0;
    full = 0;
    auto removed = [&](std::uint32_t cid) {
      const Contact& c = contacts[cid];
      d.contacts.push_back({std::string(c.jid.view()), proto::ContactChange::Kind::kRemoved});
      cost += kDeltaContactOverhead + c.jid.size();
      for (std::uint32_t rid = c.first; rid != kNone; rid = res[rid].next)
        if (state_at(res[rid], v)) {
          d.unavailable.push_back(std::string(res[rid].jid.view()));
          cost += kDeltaUnavailableOverhead + res[rid].jid.size();
        }
    };
    auto added = [&](std::uint32_t cid) {
      const Contact& c = contacts[cid];
      d.contacts.push_back({std::string(c.jid.view()), proto::ContactChange::Kind::kAdded});
      cost += kDeltaContactOverhead + c.jid.size();
      for (std::uint32_t rid = c.first; rid != kNone; rid = res[rid].next) {
        const Resource& r = res[rid];
        if (!r.avail) continue;
        d.added.push_back({std::string(r.jid.view()), packer.unpack(r.fields)});
        cost += kDeltaNewOverhead + r.jid.size() + field_bytes(r.fields);
      }
    };
    auto kept = [&](std::uint32_t cid) {
      const Contact& c = contacts[cid];
      if (c.changed <= v) return;
      for (std::uint32_t rid = c.first; rid != kNone; rid = res[rid].next) {
        const Resource& r = res[rid];
        if (r.since <= v) continue;
        const Packed* old = state_at(r, v);
        if (!old && r.avail) {
          d.added.push_back({std::string(r.jid.view()), packer.unpack(r.fields)});
          cost += kDeltaNewOverhead + r.jid.size() + field_bytes(r.fields);
        } else if (old && !r.avail) {
          d.unavailable.push_back(std::string(r.jid.view()));
          cost += kDeltaUnavailableOverhead + r.jid.size();
        } else if (old && r.avail && !Packed::same(*old, r.fields)) {
          auto ch = proto::make_change(std::string(r.jid.view()), packer.unpack(*old), packer.unpack(r.fields));
          if ((ch.set | ch.unset) == 0) continue;
          cost += kDeltaChangedOverhead + r.jid.size() + changed_bytes(ch) +
                  kDeltaUnsetOverhead * static_cast<std::uint64_t>(__builtin_popcount(ch.unset));
          d.changed.push_back(std::move(ch));
        }
      }
    };
    std::size_t i = 0, j = 0;
    while (i < r0.size() || j < r1.size()) {
      if (j == r1.size() || (i < r0.size() && r0[i] < r1[j])) {
        removed(r0[i++]);
        continue;
      }
      const Contact& c = contacts[r1[j]];
      full += c.count ? c.cost : kUnavailableOverhead + 2 * c.jid.size();
      if (i == r0.size() || r1[j] < r0[i]) {
        added(r1[j++]);
      } else {
        kept(r1[j]);
        ++i;
        ++j;
      }
    }
    return d;
  }
  static std::uint64_t changed_bytes(const proto::ChangedResource& ch) {
    const auto& f = ch.values;
    auto has = [&](proto::Field x) { return (ch.set & proto::bit(x)) != 0; };
    std::uint64_t n = 0;
    if (has(proto::Field::kShow)) n += 4 + kFieldOverhead;
    if (has(proto::Field::kStatus)) n += f.status.size() + kFieldOverhead;
    if (has(proto::Field::kPriority)) n += 4 + kFieldOverhead;
    if (has(proto::Field::kCaps) && f.caps)
      n += kCapsOverhead + f.caps->hash.size() + f.caps->node.size() + f.caps->ver.size();
    if (has(proto::Field::kPhoto)) n += f.photo.size() + kFieldOverhead;
    if (has(proto::Field::kIdle)) n += f.idle_since.size() + kFieldOverhead;
    return n;
  }
};

namespace {
// Turns journaling off for one replicated call and back on afterwards.
class NoJournal {
 public:
  explicit NoJournal(bool& flag) : flag_(flag), saved_(flag) { flag_ = false; }
  ~NoJournal() { flag_ = saved_; }
  NoJournal(const NoJournal&) = delete;
  NoJournal& operator=(const NoJournal&) = delete;

 private:
  bool& flag_;
  bool saved_;
};
}  // namespace

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

void Engine::observe_available(std::string_view full_jid, const proto::PresenceFields& fields) {
  if (impl_->resyncing) impl_->touched.emplace(full_jid);
  impl_->observe_available(full_jid, fields);
  impl_->known_again(full_jid);
}

void Engine::observe_unavailable(std::string_view full_jid) {
  if (impl_->resyncing) impl_->touched.emplace(full_jid);
  impl_->observe_unavailable(full_jid);
  impl_->known_again(full_jid);
}

void Engine::observe_unknown(std::string_view full_jid) {
  // Mentioned, so a resync does not take it offline for silence; its state stays as held
  // (and unanswerable) until a readable presence.
  if (impl_->resyncing) impl_->touched.emplace(full_jid);
  if (std::uint32_t id = impl_->res_index.find(full_jid, impl_->res_key); id != kNone)
    impl_->unconfirmed.erase(id);
  // A version of its own: moments taken before it saw a known state, moments at or after
  // it may not have.
  impl_->unknown.open(full_jid, ++impl_->version);
}

std::size_t Engine::unknown_contacts() const { return impl_->unknown.size(); }

void Engine::set_roster(std::string_view user, const std::vector<std::string>& visible) {
  impl_->set_roster(user, visible, true);
}

void Engine::gap() {
  impl_->gap();
}

void Engine::clear_presence() {
  impl_->clear_presence();
}

void Engine::begin_resync() {
  Impl& m = *impl_;
  m.unconfirmed.clear();
  m.touched.clear();
  m.resyncing = true;
  for (std::uint32_t id = 0; id < m.res.slots(); ++id)
    if (m.res[id].used && m.res[id].avail) m.unconfirmed.insert(id);
}

std::size_t Engine::end_resync() {
  Impl& m = *impl_;
  std::vector<std::uint32_t> gone(m.unconfirmed.begin(), m.unconfirmed.end());
  std::sort(gone.begin(), gone.end());  // deterministic journal order
  m.unconfirmed.clear();
  std::size_t n = 0;
  for (std::uint32_t id : gone)
    if (m.res[id].used && m.res[id].avail) {
      m.go_offline(id);
      ++n;
    }
  m.compact();
  m.resyncing = false;
  m.touched.clear();
  return n;
}

Engine::ResyncEnd Engine::end_resync(const std::vector<ResourceRecord>& rows) {
  Impl& m = *impl_;
  // The rows are the store's already; published again as this instance's observation they
  // could undo a newer change at a peer that applies our entries.
  NoJournal off(m.opt.journal);
  ResyncEnd out;
  for (const ResourceRecord& r : rows) {
    const std::string_view jid = r.jid;
    const std::string_view bare = jid.substr(0, jid.find('/'));
    if (m.touched.contains(r.jid) || m.touched.contains(std::string(bare))) continue;
    const std::uint32_t id = m.res_index.find(jid, m.res_key);
    if (id != kNone && m.res[id].avail && m.packer.same(m.res[id].fields, r.fields)) {
      m.unconfirmed.erase(id);
      ++out.kept;
      continue;
    }
    m.observe_available(jid, r.fields);  // confirms it: not in `unconfirmed` any more
    ++out.adopted;
  }
  out.gone = end_resync();
  return out;
}

proto::Result<proto::Enabled> Engine::enable(std::string_view user, std::string_view stream,
                                             std::string_view resource, std::string_view iq_id) {
  impl_->open_session(user, stream, resource, iq_id);
  impl_->compact();
  return proto::Enabled{impl_->opt.lifetime_s, impl_->digest_of_user(user)};
}

proto::Result<proto::Checkpointed> Engine::checkpoint(std::string_view user,
                                                      std::string_view stream,
                                                      std::string_view resource,
                                                      std::string_view prev,
                                                      std::string_view iq_id) {
  Impl& m = *impl_;
  auto it = m.sessions.find(session_key(user, stream, resource));
  if (it == m.sessions.end()) return proto::make_error(proto::AppCondition::kNotEnabled);
  if (m.expired(it->second)) {
    m.erase_session(it);
    m.compact();
    return proto::make_error(proto::AppCondition::kNotEnabled, "session expired");
  }
  Impl::Session& s = it->second;
  if (prev != s.newest.id)
    return proto::make_error(proto::AppCondition::kOutOfOrder, "prev is not the last key");
  if (s.previous) m.release(*s.previous);
  s.previous = std::move(s.newest);
  s.newest = m.take_moment(iq_id, m.users.find(user)->second.roster);
  s.seq = ++m.seq;
  m.journal_put(s);
  m.compact();
  return proto::Checkpointed{m.digest_of_user(user)};
}

proto::Result<std::monostate> Engine::disable(std::string_view user, std::string_view stream,
                                              std::string_view resource) {
  Impl& m = *impl_;
  auto it = m.sessions.find(session_key(user, stream, resource));
  if (it == m.sessions.end()) return proto::make_error(proto::AppCondition::kNotEnabled);
  m.erase_session(it);
  m.compact();
  return std::monostate{};
}

proto::Result<proto::Delta> Engine::sync(std::string_view user, std::string_view new_stream,
                                         std::string_view new_resource, std::string_view iq_id,
                                         const proto::SyncKey& old_key, const Fits& fits) {
  Impl& m = *impl_;
  auto it = m.sessions.find(session_key(user, old_key.stream, old_key.resource));
  if (it == m.sessions.end()) return proto::make_error(proto::AppCondition::kUnknownKey);
  Impl::Session& s = it->second;
  const Impl::Moment* moment = nullptr;
  if (s.newest.id == old_key.last)
    moment = &s.newest;
  else if (s.previous && s.previous->id == old_key.last)
    moment = &*s.previous;
  if (!moment) return proto::make_error(proto::AppCondition::kUnknownKey);
  auto fail = [&](proto::AppCondition c, std::string text) {
    m.erase_session(it);
    m.compact();
    return proto::make_error(c, std::move(text));
  };
  if (m.expired(s)) return fail(proto::AppCondition::kExpired, {});
  if (!moment->valid || moment->epoch != m.epoch || moment->version < m.horizon)
    return fail(proto::AppCondition::kContinuityLost, "component had a gap since the key");
  std::uint32_t now = m.users.find(user)->second.roster;
  if (m.touches_unknown(moment->roster, now))
    return fail(proto::AppCondition::kContinuityLost,
                "a contact's presence could not be read; its state is unknown");
  std::uint64_t cost = 0, full = 0;
  proto::Delta d = m.compute(*moment, now, cost, full);
  if (d.items() > m.opt.limits.max_delta_items || (!d.empty() && cost > full))
    return fail(proto::AppCondition::kTooLarge, "a normal login is cheaper");
  d.lifetime = m.opt.lifetime_s;
  d.state = m.digest_of_user(user);
  // Before the key moves: an answer the transport cannot carry leaves the key valid.
  if (fits && !fits(d))
    return proto::make_error(proto::AppCondition::kTooLarge,
                             "the delta is larger than the server accepts in one stanza");
  m.erase_session(it);
  m.open_session(user, new_stream, new_resource, iq_id);
  m.compact();
  return d;
}

std::size_t Engine::expire() {
  Impl& m = *impl_;
  std::vector<std::string> dead;
  for (const auto& [key, s] : m.sessions)
    if (m.expired(s)) dead.push_back(key);
  for (const auto& key : dead) m.erase_session(m.sessions.find(key));
  m.compact();
  m.sweep();
  return dead.size();
}


void Engine::apply_replicated(const Mutation& mutation) {
  Impl& m = *impl_;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, PutSession>) {
          adopt_session(x.session, std::nullopt, std::nullopt);
          return;
        }
        NoJournal off(m.opt.journal);
        if constexpr (std::is_same_v<T, PutResource>) {
          m.observe_available(x.jid, x.fields);
        } else if constexpr (std::is_same_v<T, EraseResource>) {
          m.observe_unavailable(x.jid);
        } else if constexpr (std::is_same_v<T, PutRoster>) {
          m.set_roster(x.user, x.contacts, false);
        } else if constexpr (std::is_same_v<T, EraseSession>) {
          auto it = m.sessions.find(session_key(x.user, x.stream, x.resource));
          if (it != m.sessions.end()) {
            m.erase_session(it);
            m.compact();
          }
        }
      },
      mutation);
}

void Engine::adopt_session(const SessionRecord& record,
                           const std::optional<proto::StateDigest>& newest,
                           const std::optional<proto::StateDigest>& previous) {
  Impl& m = *impl_;
  NoJournal off(m.opt.journal);
  Impl::Session& s = m.open_session(record.user, record.stream, record.resource, record.newest.id);
  const proto::StateDigest here = m.digest_of_user(record.user);
  // A moment's digest is the client's state: the origin's, not this view when they differ.
  s.newest.digest = newest;
  if (!newest || *newest != here) m.release(s.newest);
  if (record.previous) {
    s.previous = m.take_moment(record.previous->id, m.users.find(record.user)->second.roster);
    s.previous->digest = previous;
    if (!previous || *previous != here) m.release(*s.previous);
  }
  m.compact();
}

std::optional<proto::StateDigest> Engine::digest_at(std::string_view user, std::string_view stream,
                                                    std::string_view resource,
                                                    std::string_view last) const {
  const Impl& m = *impl_;
  auto it = m.sessions.find(session_key(user, stream, resource));
  if (it == m.sessions.end()) return std::nullopt;
  const Impl::Session& s = it->second;
  const Impl::Moment* moment = nullptr;
  if (s.newest.id == last)
    moment = &s.newest;
  else if (s.previous && s.previous->id == last)
    moment = &*s.previous;
  if (!moment || !moment->valid || moment->epoch != m.epoch || moment->version < m.horizon)
    return std::nullopt;
  if (m.touches_unknown(moment->roster, m.users.find(user)->second.roster)) return std::nullopt;
  const auto& members = m.members_of(moment->roster);
  const std::uint64_t v = moment->version;
  bool unchanged = m.users.find(user)->second.roster == moment->roster;
  for (std::size_t i = 0; unchanged && i < members.size(); ++i)
    unchanged = m.contacts[members[i]].changed <= v;
  if (unchanged) return m.digest_of_user(user);
  proto::StateDigest sum;
  for (std::uint32_t c : members)
    for (std::uint32_t rid = m.contacts[c].first; rid != kNone; rid = m.res[rid].next)
      if (const Packed* p = m.state_at(m.res[rid], v))
        sum.add(proto::resource_hash(m.res[rid].jid.view(), m.packer.unpack(*p)));
  return sum;
}

void Engine::save_sessions(std::string_view user) { impl_->save_sessions(user); }

void Engine::commit_sessions() {
  impl_->drop_savepoint();
  impl_->compact();
}

void Engine::rollback_sessions() { impl_->rollback_sessions(); }

std::size_t Engine::purge_user(std::string_view user, Source source) {
  Impl& m = *impl_;
  std::optional<NoJournal> off;
  if (source == Source::kReplicated) off.emplace(m.opt.journal);
  auto uit = m.users.find(user);
  if (uit == m.users.end()) return 0;
  const std::vector<std::string> keys = uit->second.sessions;
  for (const auto& key : keys) m.erase_session(m.sessions.find(key));
  m.set_roster(user, {}, true);
  m.compact();
  return keys.size();
}

std::size_t Engine::invalidate_keys(std::string_view user) {
  Impl& m = *impl_;
  std::size_t n = 0;
  auto drop = [&](Impl::Session& s) {
    const bool recorded = s.newest.digest || (s.previous && s.previous->digest);
    auto kill = [&](Impl::Moment& mo) {
      if (mo.valid) ++n;
      m.release(mo);
      mo.digest.reset();  // nor can readopt_restored() take it again after a restart
      mo.restored = false;
    };
    kill(s.newest);
    if (s.previous) kill(*s.previous);
    if (recorded) m.journal_put(s);
  };
  if (user == "*") {
    for (auto& [key, s] : m.sessions) drop(s);
  } else if (auto uit = m.users.find(user); uit != m.users.end()) {
    for (const auto& key : uit->second.sessions) drop(m.sessions.find(key)->second);
  }
  m.compact();
  return n;
}

proto::PresenceState Engine::view(std::string_view user) const {
  const Impl& m = *impl_;
  proto::PresenceState out;
  auto it = m.users.find(user);
  if (it == m.users.end()) return out;
  for (std::uint32_t c : m.members_of(it->second.roster))
    for (std::uint32_t rid = m.contacts[c].first; rid != kNone; rid = m.res[rid].next)
      if (m.res[rid].avail) out.emplace(m.res[rid].jid.view(), m.packer.unpack(m.res[rid].fields));
  return out;
}

proto::StateDigest Engine::digest(std::string_view user) const {
  return impl_->digest_of_user(user);
}

EngineStats Engine::stats() const {
  const Impl& m = *impl_;
  EngineStats s;
  s.resources = m.res_index.size();
  s.available = m.available;
  s.tombstones = s.resources - s.available;
  s.history_entries = m.history_entries;
  s.contacts = m.contact_index.size();
  s.rosters = m.rosters.in_use();
  s.users = m.users.size();
  s.sessions = m.sessions.size();
  s.live_moments = m.live.size();
  s.version = m.version;
  s.epoch = m.epoch;
  return s;
}

Batch Engine::take_changes() {
  Batch out;
  out.swap(impl_->journal);
  return out;
}

void Engine::restore(const Image& image) {
  Impl& m = *impl_;
  m.epoch = std::max(image.epoch, m.epoch) + 1;
  ++m.version;
  for (const auto& r : image.resources) {
    std::uint32_t id = m.res_index.find(r.jid, m.res_key);
    if (id != kNone) {
      if (m.res[id].avail) m.unaccount(m.res[id]);
      m.packer.release(m.res[id].fields);
    } else {
      id = m.new_resource(r.jid);
    }
    m.set_available(id, m.packer.pack(r.fields));
  }
  for (const auto& r : image.rosters) m.set_roster(r.user, r.contacts, false);
  for (const auto& rec : image.sessions) {
    auto uit = m.users.find(rec.user);
    if (uit == m.users.end()) uit = m.users.emplace(rec.user, Impl::User{}).first;
    std::string key = session_key(rec.user, rec.stream, rec.resource);
    if (m.sessions.count(key)) continue;
    Impl::Session s;
    s.user = rec.user;
    s.stream = rec.stream;
    s.resource = rec.resource;
    auto restored = [](const TxnRecord& t) {
      Impl::Moment mo;
      mo.id = t.id;
      mo.epoch = t.epoch;
      mo.at_ms = t.at_ms;
      mo.digest = t.digest;
      mo.restored = true;
      return mo;
    };
    s.newest = restored(rec.newest);
    if (rec.previous) s.previous = restored(*rec.previous);
    s.seq = ++m.seq;
    uit->second.sessions.push_back(key);
    m.sessions.emplace(std::move(key), std::move(s));
  }
  m.horizon = m.version;
  if (m.opt.journal) m.journal.emplace_back(PutEpoch{m.epoch});
}

std::size_t Engine::readopt_restored() {
  Impl& m = *impl_;
  std::size_t n = 0;
  for (auto& [key, s] : m.sessions) {
    bool moved = false;
    auto redo = [&](Impl::Moment& mo) {
      if (!mo.restored) return;
      mo.restored = false;
      auto uit = m.users.find(s.user);
      if (mo.valid || !mo.digest || uit == m.users.end() || *mo.digest != m.digest_of_user(s.user))
        return;
      const std::int64_t at = mo.at_ms;  // same clock: the lifetime still counts from it
      mo = m.take_moment(mo.id, uit->second.roster);
      mo.at_ms = at;
      moved = true;
      ++n;
    };
    redo(s.newest);
    if (s.previous) redo(*s.previous);
    if (moved) m.journal_put(s);
  }
  m.compact();
  return n;
}

}  // namespace rpsync::core
