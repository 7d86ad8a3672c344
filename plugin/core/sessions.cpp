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
  table.live.insert(m.version);
  return m;
}

void SessionTable::release(Moment& m) {
  if (m.valid) table.live.erase(table.live.find(m.version));
  m.valid = false;
  table.unref_roster(m.roster);
  m.roster = kNone;
}

// After a gap a moment can never answer again: it stops holding history and roster.
void SessionTable::invalidate(Moment& m) {
  m.valid = false;
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

SessionRecord SessionTable::record_of(const Session& s) const {
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
                                                  std::string_view resource,
                                                  std::string_view iq_id) {
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
  sit->second.seq = ++seq;
  while (uit->second.sessions.size() > std::max<std::size_t>(opt.max_sessions_per_user, 1)) {
    StrMap<Session>::iterator oldest = by_key.end();
    for (const auto& k : uit->second.sessions) {
      auto it = by_key.find(k);
      if (it != sit && (oldest == by_key.end() || it->second.seq < oldest->second.seq)) oldest = it;
    }
    erase_session(oldest);
  }
  journal_put(sit->second);
  return sit->second;
}

// A copy of a moment keeps what the original kept alive (roster, history via `live`).
void SessionTable::hold(const Moment& m) {
  table.ref_roster(m.roster);
  if (m.valid) table.live.insert(m.version);
}

void SessionTable::save_sessions(std::string_view user) {
  drop_savepoint();
  savepoint.active = true;
  savepoint.user = std::string(user);
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

void SessionTable::drop_savepoint() {
  for (Session& s : savepoint.sessions) {
    release(s.newest);
    if (s.previous) release(*s.previous);
  }
  savepoint = Savepoint{};
}

void SessionTable::rollback_sessions() {
  if (!savepoint.active) return;
  if (auto uit = users.find(savepoint.user); uit != users.end()) {
    const std::vector<std::string> keys = uit->second.sessions;
    for (const auto& key : keys) erase_session(by_key.find(key));
  }
  if (!savepoint.sessions.empty()) {
    auto uit = users.find(savepoint.user);
    if (uit == users.end()) uit = users.emplace(savepoint.user, User{}).first;
    uit->second.sessions = savepoint.order;
    for (Session& s : savepoint.sessions) {
      journal_put(s);
      std::string key = session_key(s.user, s.stream, s.resource);
      by_key.emplace(std::move(key), std::move(s));  // takes over the copy's holds
    }
  }
  savepoint = Savepoint{};
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

SessionTable::Moment restored_moment(const TxnRecord& t) {
  SessionTable::Moment mo;
  mo.id = t.id;
  mo.epoch = t.epoch;
  mo.at_ms = t.at_ms;
  mo.digest = t.digest;
  mo.restored = true;
  return mo;
}

}  // namespace

void SessionTable::restore(const std::vector<SessionRecord>& records) {
  for (const auto& rec : records) {
    auto uit = users.find(rec.user);
    if (uit == users.end()) uit = users.emplace(rec.user, User{}).first;
    std::string key = session_key(rec.user, rec.stream, rec.resource);
    if (by_key.count(key)) continue;
    Session s;
    s.user = rec.user;
    s.stream = rec.stream;
    s.resource = rec.resource;
    s.newest = restored_moment(rec.newest);
    if (rec.previous) s.previous = restored_moment(*rec.previous);
    s.seq = ++seq;
    uit->second.sessions.push_back(key);
    by_key.emplace(std::move(key), std::move(s));
  }
}

}  // namespace rpsync::core
