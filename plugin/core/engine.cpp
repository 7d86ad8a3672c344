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

#include "plugin/core/delta_builder.h"
#include "plugin/core/presence_table.h"
#include "plugin/core/recorder.h"

namespace rpsync::core {
namespace {

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
  std::uint64_t epoch = 1;
  std::uint64_t horizon = 0;  // history is complete for moments >= horizon
  std::uint64_t seq = 0;

  StrMap<User> users;
  StrMap<Session> sessions;
  Recorder journal;
  PresenceTable table{journal};
  UnknownPresence unknown;  // resources whose presence could not be read

  explicit Impl(EngineOptions o) : opt(std::move(o)) { journal.on = opt.journal; }

  Moment take_moment(std::string_view id, std::uint32_t roster) {
    Moment m;
    m.id = std::string(id);
    m.version = table.version;
    m.epoch = epoch;
    m.roster = roster;
    table.ref_roster(m.roster);
    m.at_ms = opt.clock();
    m.valid = true;
    m.digest = table.digest_of_roster(roster);
    table.live.insert(m.version);
    return m;
  }
  void release(Moment& m) {
    if (m.valid) table.live.erase(table.live.find(m.version));
    m.valid = false;
    table.unref_roster(m.roster);
    m.roster = kNone;
  }
  // After a gap a moment can never answer again: it stops holding history and roster.
  void invalidate(Moment& m) {
    m.valid = false;
    table.unref_roster(m.roster);
    m.roster = kNone;
  }

  void set_roster(std::string_view user, const std::vector<std::string>& visible, bool record) {
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
  void maybe_free_user(StrMap<User>::iterator it) {
    if (it->second.roster == kNone && it->second.sessions.empty()) users.erase(it);
  }

  // Whether a contact with an unknown resource is in either roster.
  bool touches_unknown(std::uint32_t a, std::uint32_t b) const {
    if (unknown.empty()) return false;
    bool hit = false;
    unknown.for_each([&](std::string_view bare) {
      std::uint32_t cid = table.contact_index.find(bare, table.contact_key);
      if (!hit && cid != kNone) hit = table.in_roster(a, cid) || table.in_roster(b, cid);
    });
    return hit;
  }
  // A readable presence of `jid`: when its contact is fully known again, every key moment
  // taken while it was not, whose view holds it, recorded a state the engine never held.
  void known_again(std::string_view jid) {
    auto since = unknown.close(jid);
    if (!since) return;
    std::uint32_t cid = table.contact_index.find(split_jid(jid).first, table.contact_key);
    if (cid == kNone) return;
    for (auto& [key, s] : sessions) {
      bool changed = false;
      auto drop = [&](Moment& mo) {
        if (!mo.valid || mo.version < *since || !table.in_roster(mo.roster, cid)) return;
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
    table.live.clear();
    for (auto& [key, s] : sessions) {
      invalidate(s.newest);
      if (s.previous) invalidate(*s.previous);
    }
    if (journal.on) journal.batch.emplace_back(PutEpoch{epoch});
    table.compact();
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
    if (journal.on) journal.batch.emplace_back(PutSession{record_of(s)});
  }
  bool expired(const Session& s) const {
    return opt.clock() - s.newest.at_ms >= std::int64_t{opt.lifetime_s} * 1000;
  }
  void erase_session(StrMap<Session>::iterator it) {
    Session& s = it->second;
    release(s.newest);
    if (s.previous) release(*s.previous);
    if (journal.on) journal.batch.emplace_back(EraseSession{s.user, s.stream, s.resource});
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
    table.ref_roster(m.roster);
    if (m.valid) table.live.insert(m.version);
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
    table.compact();
  }

  proto::StateDigest digest_of_user(std::string_view user) const {
    auto it = users.find(user);
    if (it == users.end()) return {};
    return table.digest_of_roster(it->second.roster);
  }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Engine::~Engine() = default;

void Engine::observe_available(std::string_view full_jid, const proto::PresenceFields& fields) {
  if (impl_->table.resyncing) impl_->table.touched.emplace(full_jid);
  impl_->table.observe_available(full_jid, fields);
  impl_->known_again(full_jid);
}

void Engine::observe_unavailable(std::string_view full_jid) {
  if (impl_->table.resyncing) impl_->table.touched.emplace(full_jid);
  impl_->table.observe_unavailable(full_jid);
  impl_->known_again(full_jid);
}

void Engine::observe_unknown(std::string_view full_jid) {
  // Mentioned, so a resync does not take it offline for silence; its state stays as held
  // (and unanswerable) until a readable presence.
  if (impl_->table.resyncing) impl_->table.touched.emplace(full_jid);
  if (std::uint32_t id = impl_->table.res_index.find(full_jid, impl_->table.res_key); id != kNone)
    impl_->table.unconfirmed.erase(id);
  // A version of its own: moments taken before it saw a known state, moments at or after
  // it may not have.
  impl_->unknown.open(full_jid, ++impl_->table.version);
}

std::size_t Engine::unknown_contacts() const {
  return impl_->unknown.size();
}

void Engine::set_roster(std::string_view user, const std::vector<std::string>& visible) {
  impl_->set_roster(user, visible, true);
}

void Engine::gap() {
  impl_->gap();
}

void Engine::clear_presence() {
  impl_->table.clear_presence();
}

void Engine::begin_resync() {
  Impl& m = *impl_;
  m.table.unconfirmed.clear();
  m.table.touched.clear();
  m.table.resyncing = true;
  for (std::uint32_t id = 0; id < m.table.res.slots(); ++id)
    if (m.table.res[id].used && m.table.res[id].avail) m.table.unconfirmed.insert(id);
}

std::size_t Engine::end_resync() {
  Impl& m = *impl_;
  std::vector<std::uint32_t> gone(m.table.unconfirmed.begin(), m.table.unconfirmed.end());
  std::sort(gone.begin(), gone.end());  // deterministic journal order
  m.table.unconfirmed.clear();
  std::size_t n = 0;
  for (std::uint32_t id : gone)
    if (m.table.res[id].used && m.table.res[id].avail) {
      m.table.go_offline(id);
      ++n;
    }
  m.table.compact();
  m.table.resyncing = false;
  m.table.touched.clear();
  return n;
}

Engine::ResyncEnd Engine::end_resync(const std::vector<ResourceRecord>& rows) {
  Impl& m = *impl_;
  // The rows are the store's already; published again as this instance's observation they
  // could undo a newer change at a peer that applies our entries.
  NoJournal off(m.journal);
  ResyncEnd out;
  for (const ResourceRecord& r : rows) {
    const std::string_view jid = r.jid;
    const std::string_view bare = jid.substr(0, jid.find('/'));
    if (m.table.touched.contains(r.jid) || m.table.touched.contains(std::string(bare))) continue;
    const std::uint32_t id = m.table.res_index.find(jid, m.table.res_key);
    if (id != kNone && m.table.res[id].avail &&
        m.table.packer.same(m.table.res[id].fields, r.fields)) {
      m.table.unconfirmed.erase(id);
      ++out.kept;
      continue;
    }
    m.table.observe_available(jid, r.fields);  // confirms it: not in `unconfirmed` any more
    ++out.adopted;
  }
  out.gone = end_resync();
  return out;
}

proto::Result<proto::Enabled> Engine::enable(std::string_view user, std::string_view stream,
                                             std::string_view resource, std::string_view iq_id) {
  impl_->open_session(user, stream, resource, iq_id);
  impl_->table.compact();
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
    m.table.compact();
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
  m.table.compact();
  return proto::Checkpointed{m.digest_of_user(user)};
}

proto::Result<std::monostate> Engine::disable(std::string_view user, std::string_view stream,
                                              std::string_view resource) {
  Impl& m = *impl_;
  auto it = m.sessions.find(session_key(user, stream, resource));
  if (it == m.sessions.end()) return proto::make_error(proto::AppCondition::kNotEnabled);
  m.erase_session(it);
  m.table.compact();
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
    m.table.compact();
    return proto::make_error(c, std::move(text));
  };
  if (m.expired(s)) return fail(proto::AppCondition::kExpired, {});
  if (!moment->valid || moment->epoch != m.epoch || moment->version < m.horizon)
    return fail(proto::AppCondition::kContinuityLost, "component had a gap since the key");
  std::uint32_t now = m.users.find(user)->second.roster;
  if (m.touches_unknown(moment->roster, now))
    return fail(proto::AppCondition::kContinuityLost,
                "a contact's presence could not be read; its state is unknown");
  DeltaCost cost;
  proto::Delta d = build_delta(m.table, moment->roster, moment->version, now, cost);
  if (d.items() > m.opt.limits.max_delta_items || (!d.empty() && cost.delta > cost.full))
    return fail(proto::AppCondition::kTooLarge, "a normal login is cheaper");
  d.lifetime = m.opt.lifetime_s;
  d.state = m.digest_of_user(user);
  // Before the key moves: an answer the transport cannot carry leaves the key valid.
  if (fits && !fits(d))
    return proto::make_error(proto::AppCondition::kTooLarge,
                             "the delta is larger than the server accepts in one stanza");
  m.erase_session(it);
  m.open_session(user, new_stream, new_resource, iq_id);
  m.table.compact();
  return d;
}

std::size_t Engine::expire() {
  Impl& m = *impl_;
  std::vector<std::string> dead;
  for (const auto& [key, s] : m.sessions)
    if (m.expired(s)) dead.push_back(key);
  for (const auto& key : dead) m.erase_session(m.sessions.find(key));
  m.table.compact();
  m.table.sweep();
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
        NoJournal off(m.journal);
        if constexpr (std::is_same_v<T, PutResource>) {
          m.table.observe_available(x.jid, x.fields);
        } else if constexpr (std::is_same_v<T, EraseResource>) {
          m.table.observe_unavailable(x.jid);
        } else if constexpr (std::is_same_v<T, PutRoster>) {
          m.set_roster(x.user, x.contacts, false);
        } else if constexpr (std::is_same_v<T, EraseSession>) {
          auto it = m.sessions.find(session_key(x.user, x.stream, x.resource));
          if (it != m.sessions.end()) {
            m.erase_session(it);
            m.table.compact();
          }
        }
      },
      mutation);
}

void Engine::adopt_session(const SessionRecord& record,
                           const std::optional<proto::StateDigest>& newest,
                           const std::optional<proto::StateDigest>& previous) {
  Impl& m = *impl_;
  NoJournal off(m.journal);
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
  m.table.compact();
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
  const auto& members = m.table.members_of(moment->roster);
  const std::uint64_t v = moment->version;
  bool unchanged = m.users.find(user)->second.roster == moment->roster;
  for (std::size_t i = 0; unchanged && i < members.size(); ++i)
    unchanged = m.table.contacts[members[i]].changed <= v;
  if (unchanged) return m.digest_of_user(user);
  proto::StateDigest sum;
  for (std::uint32_t c : members)
    for (std::uint32_t rid = m.table.contacts[c].first; rid != kNone; rid = m.table.res[rid].next)
      if (const Packed* p = m.table.state_at(m.table.res[rid], v))
        sum.add(proto::resource_hash(m.table.res[rid].jid.view(), m.table.packer.unpack(*p)));
  return sum;
}

void Engine::save_sessions(std::string_view user) {
  impl_->save_sessions(user);
}

void Engine::commit_sessions() {
  impl_->drop_savepoint();
  impl_->table.compact();
}

void Engine::rollback_sessions() {
  impl_->rollback_sessions();
}

std::size_t Engine::purge_user(std::string_view user, Source source) {
  Impl& m = *impl_;
  std::optional<NoJournal> off;
  if (source == Source::kReplicated) off.emplace(m.journal);
  auto uit = m.users.find(user);
  if (uit == m.users.end()) return 0;
  const std::vector<std::string> keys = uit->second.sessions;
  for (const auto& key : keys) m.erase_session(m.sessions.find(key));
  m.set_roster(user, {}, true);
  m.table.compact();
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
  m.table.compact();
  return n;
}

proto::PresenceState Engine::view(std::string_view user) const {
  const Impl& m = *impl_;
  proto::PresenceState out;
  auto it = m.users.find(user);
  if (it == m.users.end()) return out;
  for (std::uint32_t c : m.table.members_of(it->second.roster))
    for (std::uint32_t rid = m.table.contacts[c].first; rid != kNone; rid = m.table.res[rid].next)
      if (m.table.res[rid].avail)
        out.emplace(m.table.res[rid].jid.view(), m.table.packer.unpack(m.table.res[rid].fields));
  return out;
}

proto::StateDigest Engine::digest(std::string_view user) const {
  return impl_->digest_of_user(user);
}

EngineStats Engine::stats() const {
  const Impl& m = *impl_;
  EngineStats s;
  s.resources = m.table.res_index.size();
  s.available = m.table.available;
  s.tombstones = s.resources - s.available;
  s.history_entries = m.table.history_entries;
  s.contacts = m.table.contact_index.size();
  s.rosters = m.table.rosters.in_use();
  s.users = m.users.size();
  s.sessions = m.sessions.size();
  s.live_moments = m.table.live.size();
  s.version = m.table.version;
  s.epoch = m.epoch;
  return s;
}

Batch Engine::take_changes() {
  Batch out;
  out.swap(impl_->journal.batch);
  return out;
}

void Engine::restore(const Image& image) {
  Impl& m = *impl_;
  m.epoch = std::max(image.epoch, m.epoch) + 1;
  ++m.table.version;
  for (const auto& r : image.resources) {
    std::uint32_t id = m.table.res_index.find(r.jid, m.table.res_key);
    if (id != kNone) {
      if (m.table.res[id].avail) m.table.unaccount(m.table.res[id]);
      m.table.packer.release(m.table.res[id].fields);
    } else {
      id = m.table.new_resource(r.jid);
    }
    m.table.set_available(id, m.table.packer.pack(r.fields));
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
  m.horizon = m.table.version;
  if (m.journal.on) m.journal.batch.emplace_back(PutEpoch{m.epoch});
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
  m.table.compact();
  return n;
}

}  // namespace rpsync::core
