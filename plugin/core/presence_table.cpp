// SPDX-License-Identifier: MIT
#include "plugin/core/presence_table.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "plugin/core/delta_builder.h"

namespace rpsync::core {

// Is there a live key moment v with lo <= v < hi?
bool PresenceTable::live_in(std::uint64_t lo, std::uint64_t hi) const {
  auto it = live.lower_bound(lo);
  return it != live.end() && *it < hi;
}

std::uint64_t PresenceTable::min_live() const {
  return live.empty() ? version + 1 : *live.begin();
}

std::uint32_t PresenceTable::contact_of(std::string_view bare) {
  if (std::uint32_t id = contact_index.find(bare, contact_key); id != kNone) return id;
  const std::uint32_t id = contacts.acquire();
  contacts[id].jid = Text(bare);
  contacts[id].used = true;
  contact_index.insert(bare, id);
  return id;
}

void PresenceTable::maybe_free_contact(std::uint32_t id) {
  Contact& c = contacts[id];
  if (c.roster_refs != 0 || c.first != kNone) return;
  contact_index.erase(c.jid.view(), contact_key);
  contacts.release(id);
}

std::uint64_t PresenceTable::hash_members(const std::vector<std::uint32_t>& m) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint32_t x : m) h = (h ^ x) * 1099511628211ull;
  return h ^ m.size();
}

void PresenceTable::ref_roster(std::uint32_t id) {
  if (id != kNone) ++rosters[id].refs;
}

void PresenceTable::unref_roster(std::uint32_t id) {
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
std::uint32_t PresenceTable::intern_roster(std::vector<std::uint32_t> members) {
  std::uint64_t h = hash_members(members);
  auto& bucket = roster_index[h];
  for (std::uint32_t id : bucket)
    if (rosters[id].members == members) return id;
  const std::uint32_t id = rosters.acquire();
  for (std::uint32_t c : members) ++contacts[c].roster_refs;
  std::uint64_t fp = 0;
  for (std::uint32_t c : members) {
    std::uint64_t x = 1469598103934665603ull;
    for (char ch : contacts[c].jid.view())
      x = (x ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
    fp += x ^ (x >> 29);
  }
  rosters[id] = Roster{std::move(members), h, fp, 0, true};
  bucket.push_back(id);
  return id;
}

std::uint64_t PresenceTable::roster_fingerprint(std::uint32_t roster) const {
  return roster == kNone ? 0 : rosters[roster].fingerprint;
}

const std::vector<std::uint32_t>& PresenceTable::members_of(std::uint32_t roster) const {
  static const std::vector<std::uint32_t> kEmpty;
  return roster == kNone ? kEmpty : rosters[roster].members;
}

bool PresenceTable::in_roster(std::uint32_t roster, std::uint32_t cid) const {
  const auto& members = members_of(roster);
  return std::binary_search(members.begin(), members.end(), cid);
}

std::uint32_t PresenceTable::new_resource(std::string_view full) {
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

void PresenceTable::erase_resource(std::uint32_t id) {
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
void PresenceTable::push_history(std::uint32_t id) {
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
void PresenceTable::drop_unneeded(std::uint32_t id) {
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
bool PresenceTable::needed_offline(const Resource& r) const {
  if (r.avail || !r.history) return r.avail;
  for (const Past& p : *r.history)
    if (p.avail) return true;
  return false;
}

// Full pass (from expire()): precise pruning of history and tombstones.
void PresenceTable::sweep() {
  for (std::size_t i = 0; i < res.slots(); ++i) {
    const auto id = static_cast<std::uint32_t>(i);
    if (!res[id].used || !res[id].history) continue;
    drop_unneeded(id);
    if (!needed_offline(res[id])) drop_tombstone(id);
  }
}

void PresenceTable::prune_history(std::uint32_t id, std::uint64_t min) {
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
const Packed* PresenceTable::state_at(const Resource& r, std::uint64_t v) const {
  if (r.since <= v) return r.avail ? &r.fields : nullptr;
  if (r.history)
    for (auto it = r.history->rbegin(); it != r.history->rend(); ++it)
      if (it->since <= v) return it->avail ? &it->fields : nullptr;
  return nullptr;  // created after v
}

void PresenceTable::compact() {
  std::uint64_t min = min_live();
  while (!tomb_q.empty() && tomb_q.front().first <= min) {
    auto [at, id] = tomb_q.front();
    tomb_q.pop_front();
    Resource& r = res[id];
    if (r.used && !r.avail && r.since == at) drop_tombstone(id);
  }
  while (!hist_q.empty() && hist_q.front().first <= min) {
    std::uint32_t id = hist_q.front().second;
    hist_q.pop_front();
    prune_history(id, min);
  }
}

void PresenceTable::set_available(std::uint32_t id, Packed fields) {
  Resource& r = res[id];
  r.fields = std::move(fields);
  r.hashed = false;
  r.avail = true;
  r.since = version;
  Contact& c = contacts[r.contact];
  c.summed = false;
  ++c.count;
  c.cost += presence_bytes(r.jid.size(), r.fields, packer);
  c.changed = version;
  ++available;
}

// Subtracts r's current (available) state from its contact's sums.
void PresenceTable::unaccount(const Resource& r) {
  Contact& c = contacts[r.contact];
  c.summed = false;
  --c.count;
  c.cost -= presence_bytes(r.jid.size(), r.fields, packer);
  --available;
}

void PresenceTable::observe_available(std::string_view full, const proto::PresenceFields& f) {
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
  if (journal.on) {
    std::optional<Versions> v;
    if (journal.history) v = versions_of(res[id]);
    journal.batch.emplace_back(PutResource{std::string(full), f, std::move(v)});
  }
  compact();
}

void PresenceTable::go_offline(std::uint32_t id) {
  if (!unconfirmed.empty()) unconfirmed.erase(id);
  ++version;
  Resource& r = res[id];
  unaccount(r);
  push_history(id);
  r.fields = Packed{};
  r.avail = false;
  r.since = version;
  contacts[r.contact].changed = version;
  const bool needed = needed_offline(r);
  if (journal.on) {
    EraseResource e{std::string(r.jid.view())};
    if (needed && journal.history) e.tombstone = versions_of(r);
    journal.batch.emplace_back(std::move(e));
  }
  if (needed)
    tomb_q.emplace_back(version, id);
  else
    erase_resource(id);
}

void PresenceTable::observe_unavailable(std::string_view full) {
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

void PresenceTable::clear_presence() {
  for (std::uint32_t id = 0; id < res.slots(); ++id)
    if (res[id].used && res[id].avail) go_offline(id);
  compact();
}

// Hashes are computed on demand: ingest only marks them stale, so a resource that
// changes many times between two digests is hashed once.
const proto::StateDigest& PresenceTable::sum_of_contact(std::uint32_t cid) const {
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
proto::StateDigest PresenceTable::digest_of_roster(std::uint32_t roster) const {
  proto::StateDigest s;
  for (std::uint32_t c : members_of(roster)) s.add(sum_of_contact(c));
  return s;
}

void PresenceTable::begin_resync() {
  unconfirmed.clear();
  touched.clear();
  resyncing = true;
  resync_next = 0;
  resync_unjournaled = false;
  for (std::uint32_t id = 0; id < res.slots(); ++id)
    if (res[id].used && res[id].avail) unconfirmed.insert(id);
}

std::size_t PresenceTable::end_resync() {
  std::size_t n = 0;
  while (!end_resync_step(std::numeric_limits<std::size_t>::max() / 8, n)) {
  }
  return n;
}

bool PresenceTable::end_resync_step(std::size_t max, std::size_t& gone) {
  std::optional<NoJournal> off;
  if (resync_unjournaled) off.emplace(journal);
  std::size_t taken = 0;
  for (std::size_t seen = 0;
       taken < max && seen < 8 * max && !unconfirmed.empty() && resync_next < res.slots(); ++seen) {
    const std::uint32_t id = resync_next++;
    if (unconfirmed.erase(id) == 0) continue;
    if (res[id].used && res[id].avail) {  // re-checked: not gone offline since
      go_offline(id);
      ++taken;
    }
  }
  gone += taken;
  // Ids past the last slot were never unconfirmed: resources created since are new.
  if (!unconfirmed.empty() && resync_next < res.slots()) return false;
  cancel_resync();
  compact();
  return true;
}

void PresenceTable::cancel_resync() {
  unconfirmed.clear();
  resyncing = false;
  touched.clear();
  resync_next = 0;
  resync_unjournaled = false;
}

Versions PresenceTable::versions_of(const Resource& r) const {
  Versions v;
  v.since = r.since;
  if (r.history)
    for (const Past& p : *r.history) {
      PastRecord& out = v.past.emplace_back();
      out.since = p.since;
      if (p.avail) out.fields = packer.unpack(p.fields);
    }
  return v;
}

void PresenceTable::drop_tombstone(std::uint32_t id) {
  if (journal.on && journal.history)
    journal.batch.emplace_back(EraseResource{std::string(res[id].jid.view()), std::nullopt, true});
  erase_resource(id);
}

void PresenceTable::load_history(std::uint32_t id, const Versions& v) {
  Resource& r = res[id];
  r.since = v.since;
  Contact& c = contacts[r.contact];
  c.changed = std::max(c.changed, v.since);
  if (v.past.empty()) return;
  r.history = std::make_unique<std::vector<Past>>();
  for (const PastRecord& p : v.past) {
    Past& out = r.history->emplace_back();
    out.since = p.since;
    out.avail = p.fields.has_value();
    if (p.fields) out.fields = packer.pack(*p.fields);
  }
  history_entries += v.past.size();
}

void PresenceTable::load(const std::vector<ResourceRecord>& rows,
                         const std::vector<TombstoneRecord>& tombs) {
  for (const auto& t : tombs) {
    if (res_index.find(t.jid, res_key) != kNone) continue;
    const std::uint32_t id = new_resource(t.jid);
    load_history(id, t.versions);
  }
  for (const auto& r : rows) {
    std::uint32_t id = res_index.find(r.jid, res_key);
    if (id != kNone) {
      if (res[id].avail) unaccount(res[id]);
      packer.release(res[id].fields);
    } else {
      id = new_resource(r.jid);
    }
    set_available(id, packer.pack(r.fields));
    if (r.versions) {
      load_history(id, *r.versions);
      continue;
    }
    unversioned.emplace(proto::bare_of(r.jid));
    if (journal.on && journal.history)
      journal.batch.emplace_back(PutResource{r.jid, r.fields, versions_of(res[id])});
  }
  // The compaction queues are ordered by version; everything loaded precedes `version`.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> tq, hq;
  for (std::uint32_t id = 0; id < contacts.slots(); ++id)
    if (contacts[id].used) contacts[id].changed = 0;
  for (std::uint32_t id = 0; id < res.slots(); ++id) {
    const Resource& r = res[id];
    if (!r.used) continue;
    contacts[r.contact].changed = std::max(contacts[r.contact].changed, r.since);
    if (!r.avail) tq.emplace_back(r.since, id);
    if (r.history) hq.emplace_back(r.since, id);
  }
  std::sort(tq.begin(), tq.end());
  std::sort(hq.begin(), hq.end());
  tomb_q.insert(tomb_q.begin(), tq.begin(), tq.end());
  hist_q.insert(hist_q.begin(), hq.begin(), hq.end());
}

bool PresenceTable::rebuildable(std::uint32_t roster) const {
  if (unversioned.empty()) return true;
  for (std::uint32_t c : members_of(roster))
    if (unversioned.contains(std::string(contacts[c].jid.view()))) return false;
  return true;
}

proto::PresenceState PresenceTable::view_of(std::uint32_t roster) const {
  proto::PresenceState out;
  for (std::uint32_t c : members_of(roster))
    for (std::uint32_t rid = contacts[c].first; rid != kNone; rid = res[rid].next)
      if (res[rid].avail) out.emplace(res[rid].jid.view(), packer.unpack(res[rid].fields));
  return out;
}

proto::StateDigest PresenceTable::digest_at(std::uint32_t roster, std::uint64_t v,
                                            std::uint32_t now) const {
  const auto& members = members_of(roster);
  bool unchanged = now == roster;
  for (std::size_t i = 0; unchanged && i < members.size(); ++i)
    unchanged = contacts[members[i]].changed <= v;
  if (unchanged) return digest_of_roster(roster);
  proto::StateDigest sum;
  for (std::uint32_t c : members)
    for (std::uint32_t rid = contacts[c].first; rid != kNone; rid = res[rid].next)
      if (const Packed* p = state_at(res[rid], v))
        sum.add(proto::resource_hash(res[rid].jid.view(), packer.unpack(*p)));
  return sum;
}

}  // namespace rpsync::core
