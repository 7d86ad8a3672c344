// SPDX-License-Identifier: MIT
#include "plugin/core/sessions.h"

#include <algorithm>
#include <utility>

namespace rpsync::core {

std::string session_key(std::string_view user, std::string_view stream, std::string_view resource) {
  std::string k;
  k.reserve(user.size() + stream.size() + resource.size() + 2);
  k.append(user).push_back('\0');
  k.append(stream).push_back('\0');
  k.append(resource);
  return k;
}

SessionTable::Moment SessionTable::take_moment(std::string_view id, std::uint32_t roster) {
  Moment m;
  m.id = std::string(id);
  m.version = table.version;
  m.epoch = epoch;
  m.roster = roster;
  table.ref_roster(m.roster);
  m.at_ms = opt.clock();
  m.valid = true;
  m.gaps = coverage.closed();
  m.digest = table.digest_of_roster(roster);
  m.exact = !unsure || !unsure(roster);
  table.live.insert(m.version);
  return m;
}

void SessionTable::release(Moment& m) {
  if (m.valid || m.pinned) table.live.erase(table.live.find(m.version));
  m.valid = false;
  m.pinned = false;
  table.unref_roster(m.roster);
  m.roster = kNone;
}

// After a gap a moment can never answer again: it stops holding history and roster.
void SessionTable::invalidate(Moment& m) {
  m.valid = false;
  m.pinned = false;  // `live` is cleared by the caller
  table.unref_roster(m.roster);
  m.roster = kNone;
}

void SessionTable::set_roster(std::string_view user, const std::vector<std::string>& visible,
                              bool record) {
  std::vector<std::uint32_t> members;
  members.reserve(visible.size());
  for (const auto& v : visible) members.push_back(table.contact_of(v));
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  auto uit = users.find(user);
  if (uit == users.end()) {
    if (members.empty()) return;
    uit = users.emplace(std::string(user), User{}).first;
  }
  User& u = uit->second;
  std::uint32_t id = members.empty() ? kNone : table.intern_roster(std::move(members));
  if (id == u.roster) return;
  table.ref_roster(id);
  table.unref_roster(u.roster);
  u.roster = id;
  if (record && journal.on) {
    PutRoster m{std::string(user), {}};
    for (std::uint32_t c : table.members_of(id))
      m.contacts.emplace_back(table.contacts[c].jid.view());
    journal.batch.emplace_back(std::move(m));
  }
  maybe_free_user(uit);
}

void SessionTable::maybe_free_user(StrMap<User>::iterator it) {
  if (it->second.roster == kNone && it->second.sessions.empty()) users.erase(it);
}

void SessionTable::gap() {
  ++epoch;
  table.live.clear();
  for (auto& [key, s] : by_key) {
    invalidate(s.newest);
    if (s.previous) invalidate(*s.previous);
  }
  if (journal.on) journal.batch.emplace_back(PutEpoch{epoch});
  table.compact();
}

std::optional<std::uint64_t> SessionTable::persisted_version(const Moment& m) const {
  if (!journal.history || !(m.valid || m.pinned) || !m.exact) return std::nullopt;
  return m.version;
}

SessionRecord SessionTable::record_of(const Session& s) const {
  const Moment& n = s.newest;
  auto fp = [this](const Moment& m) {
    return persisted_version(m) ? table.roster_fingerprint(m.roster) : 0;
  };
  SessionRecord r{s.user,
                  s.stream,
                  s.resource,
                  {n.id, n.epoch, n.at_ms, n.digest, n.retires, persisted_version(n), fp(n)},
                  std::nullopt};
  if (const auto& p = s.previous)
    r.previous = TxnRecord{
        p->id, p->epoch, p->at_ms, p->digest, std::nullopt, persisted_version(*p), fp(*p)};
  return r;
}

void SessionTable::journal_put(const Session& s) {
  if (journal.on) journal.batch.emplace_back(PutSession{record_of(s)});
}

bool SessionTable::expired(const Session& s) const {
  return opt.clock() - s.newest.at_ms >= std::int64_t{opt.lifetime_s} * 1000;
}

void SessionTable::erase_session(StrMap<Session>::iterator it) {
  Session& s = it->second;
  release(s.newest);
  if (s.previous) release(*s.previous);
  if (journal.on) journal.batch.emplace_back(EraseSession{s.user, s.stream, s.resource});
  auto uit = users.find(s.user);
  auto& list = uit->second.sessions;
  list.erase(std::find(list.begin(), list.end(), it->first));
  by_key.erase(it);
  maybe_free_user(uit);
}

// Creates or resets the session and returns it; evicts beyond the per-user bound.
SessionTable::Session& SessionTable::open_session(std::string_view user, std::string_view stream,
                                                  std::string_view resource, std::string_view iq_id,
                                                  std::optional<KeyRef> retires) {
  auto uit = users.find(user);
  if (uit == users.end()) uit = users.emplace(std::string(user), User{}).first;
  std::string key = session_key(user, stream, resource);
  auto sit = by_key.find(key);
  if (sit == by_key.end()) {
    Session s;
    s.user = std::string(user);
    s.stream = std::string(stream);
    s.resource = std::string(resource);
    uit->second.sessions.push_back(key);
    sit = by_key.emplace(key, std::move(s)).first;
  } else {
    release(sit->second.newest);
    if (sit->second.previous) release(*sit->second.previous);
    sit->second.previous.reset();
  }
  sit->second.newest = take_moment(iq_id, uit->second.roster);
  sit->second.newest.retires = std::move(retires);
  sit->second.seq = ++seq;
  enforce_bound(uit->second, sit);
  journal_put(sit->second);
  return sit->second;
}

SessionTable::Session& SessionTable::open_after_sync(StrMap<Session>::iterator old,
                                                     const Moment& used, std::string_view stream,
                                                     std::string_view resource,
                                                     std::string_view iq_id) {
  Session& o = old->second;
  o.seq = ++seq;  // used now: evicted after the sessions used less recently
  const std::string user = o.user;
  if (old->first != session_key(user, stream, resource))
    return open_session(user, stream, resource, iq_id, KeyRef{o.stream, o.resource, used.id});
  Moment kept = used;  // open_session releases the session's moments
  hold(kept);
  kept.retires.reset();
  Session& s = open_session(user, stream, resource, iq_id);
  s.previous = std::move(kept);
  journal_put(s);
  return s;
}

std::vector<std::string> SessionTable::superseded(const User& u) const {
  std::vector<std::string> out;
  for (const auto& k : u.sessions) {
    const Session& s = by_key.find(k)->second;
    if (!s.newest.retires) continue;
    const KeyRef& r = *s.newest.retires;
    auto t = find(s.user, r.stream, r.resource);
    if (t != by_key.end() && t->first != k && moment_named(t->second, r.last))
      out.push_back(t->first);
  }
  return out;
}

bool SessionTable::is_superseded(StrMap<Session>::const_iterator it) const {
  const std::vector<std::string> sup = superseded(users.find(it->second.user)->second);
  return std::find(sup.begin(), sup.end(), it->first) != sup.end();
}

void SessionTable::enforce_bound(User& u, StrMap<Session>::iterator keep) {
  const std::size_t bound = std::max<std::size_t>(opt.max_sessions_per_user, 1);
  for (;;) {
    const std::vector<std::string> sup = superseded(u);
    auto is_sup = [&](const std::string& k) { return std::count(sup.begin(), sup.end(), k) > 0; };
    const auto pending =
        static_cast<std::size_t>(std::count_if(u.sessions.begin(), u.sessions.end(), is_sup));
    const bool counted_over = u.sessions.size() - pending > bound;
    if (!counted_over && u.sessions.size() <= 2 * bound) return;
    // Over the bound of sessions in use: the least recently used of them; else (too many
    // awaiting proof) the least recently used superseded one.
    StrMap<Session>::iterator oldest = by_key.end();
    for (const auto& k : u.sessions) {
      auto it = by_key.find(k);
      if (it == keep || is_sup(k) == counted_over) continue;
      if (oldest == by_key.end() || it->second.seq < oldest->second.seq) oldest = it;
    }
    if (oldest == by_key.end()) return;
    erase_session(oldest);
  }
}

void SessionTable::prove(Session& s) {
  std::optional<KeyRef> link = std::move(s.newest.retires);
  s.newest.retires.reset();
  // Each step erases one session: the chain is no longer than the user's sessions.
  while (link) {
    auto it = find(s.user, link->stream, link->resource);
    if (it == by_key.end() || &it->second == &s) return;
    Session& old = it->second;
    if (!moment_named(old, link->last)) return;
    std::optional<KeyRef> next;
    if (old.newest.id == link->last) next = old.newest.retires;
    erase_session(it);
    link = std::move(next);
  }
}

// A copy of a moment keeps what the original kept alive (roster, history via `live`).
void SessionTable::hold(const Moment& m) {
  table.ref_roster(m.roster);
  if (m.valid || m.pinned) table.live.insert(m.version);
}

void SessionTable::save_sessions(std::string_view user) {
  drop_savepoint(user);
  Savepoint& savepoint = savepoints[std::string(user)];
  auto uit = users.find(user);
  if (uit == users.end()) return;
  savepoint.order = uit->second.sessions;
  for (const auto& key : savepoint.order) {
    const Session& s = by_key.find(key)->second;
    hold(s.newest);
    if (s.previous) hold(*s.previous);
    savepoint.sessions.push_back(s);
  }
}

void SessionTable::drop_savepoint(std::string_view user) {
  auto it = savepoints.find(user);
  if (it == savepoints.end()) return;
  for (Session& s : it->second.sessions) {
    release(s.newest);
    if (s.previous) release(*s.previous);
  }
  savepoints.erase(it);
}

void SessionTable::rollback_sessions(std::string_view user) {
  auto it = savepoints.find(user);
  if (it == savepoints.end()) return;
  Savepoint savepoint = std::move(it->second);
  savepoints.erase(it);
  if (auto uit = users.find(user); uit != users.end()) {
    const std::vector<std::string> keys = uit->second.sessions;
    for (const auto& key : keys) erase_session(by_key.find(key));
  }
  if (!savepoint.sessions.empty()) {
    auto uit = users.find(user);
    if (uit == users.end()) uit = users.emplace(std::string(user), User{}).first;
    uit->second.sessions = savepoint.order;
    for (Session& s : savepoint.sessions) {
      journal_put(s);
      std::string key = session_key(s.user, s.stream, s.resource);
      by_key.emplace(std::move(key), std::move(s));  // takes over the copy's holds
    }
  }
  table.compact();
}

proto::StateDigest SessionTable::digest_of_user(std::string_view user) const {
  auto it = users.find(user);
  if (it == users.end()) return {};
  return table.digest_of_roster(it->second.roster);
}

StrMap<SessionTable::Session>::iterator SessionTable::find(std::string_view user,
                                                           std::string_view stream,
                                                           std::string_view resource) {
  return by_key.find(session_key(user, stream, resource));
}

StrMap<SessionTable::Session>::const_iterator SessionTable::find(std::string_view user,
                                                                 std::string_view stream,
                                                                 std::string_view resource) const {
  return by_key.find(session_key(user, stream, resource));
}

const SessionTable::Moment* SessionTable::moment_named(const Session& s, std::string_view last) {
  if (s.newest.id == last) return &s.newest;
  if (s.previous && s.previous->id == last) return &*s.previous;
  return nullptr;
}

bool SessionTable::covered(const Moment& m, std::uint32_t roster) const {
  if (m.gaps == coverage.closed()) return true;
  for (std::uint32_t cid : table.members_of(roster))
    if (!coverage.covered_since(table.contacts[cid].jid.view(), m.gaps)) return false;
  return true;
}

bool SessionTable::answerable(const Moment& m) const {
  return m.valid && m.epoch == epoch && m.version >= horizon;
}

namespace {

SessionTable::Moment restored_moment(const TxnRecord& t, std::uint64_t last_epoch) {
  SessionTable::Moment mo;
  // Answerable at the stop (of its last epoch, versioned only while answerable): the
  // history its view needs was journaled.
  if (t.version && t.digest && t.epoch == last_epoch) {
    mo.version = *t.version;
    mo.roster_fp = t.roster_fp;
    mo.pinned = true;
  }
  mo.id = t.id;
  mo.epoch = t.epoch;
  mo.at_ms = t.at_ms;
  mo.digest = t.digest;
  mo.retires = t.retires;
  mo.restored = true;
  return mo;
}

}  // namespace

void SessionTable::restore(const std::vector<SessionRecord>& records, std::uint64_t last_epoch) {
  for (const auto& rec : records) {
    auto uit = users.find(rec.user);
    if (uit == users.end()) uit = users.emplace(rec.user, User{}).first;
    std::string key = session_key(rec.user, rec.stream, rec.resource);
    if (by_key.count(key)) continue;
    Session s;
    s.user = rec.user;
    s.stream = rec.stream;
    s.resource = rec.resource;
    s.newest = restored_moment(rec.newest, last_epoch);
    if (rec.previous) s.previous = restored_moment(*rec.previous, last_epoch);
    if (s.newest.pinned) table.live.insert(s.newest.version);
    if (s.previous && s.previous->pinned) table.live.insert(s.previous->version);
    s.seq = ++seq;
    uit->second.sessions.push_back(key);
    by_key.emplace(std::move(key), std::move(s));
  }
}

}  // namespace rpsync::core
