// SPDX-License-Identifier: MIT
#include "plugin/core/engine.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "plugin/core/delta_builder.h"
#include "plugin/core/presence_table.h"
#include "plugin/core/recorder.h"
#include "plugin/core/sessions.h"

namespace rpsync::core {

// The engine's state: the presence table, the sessions over it, the record of mutations
// both append to, and the contacts whose presence could not be read (which span both).
struct Engine::Impl {
  EngineOptions opt;

  Recorder journal;
  PresenceTable table{journal};
  SessionTable sessions{opt, table, journal};
  UnknownPresence unknown;  // resources whose presence could not be read

  explicit Impl(EngineOptions o) : opt(std::move(o)) {
    journal.on = opt.journal;
    journal.history = opt.history;
    sessions.unsure = [this](std::uint32_t roster) { return touches_unknown(roster, roster); };
  }

  // A restored, pinned moment whose roster the user still has and whose view at its
  // version, rebuilt from the loaded history under it, is the state its client held (the
  // recorded digest): taken again at that version, so a delta from it is exact.
  bool rebuilt(const SessionTable::Moment& mo, std::uint32_t roster) const {
    return mo.pinned && mo.digest && mo.roster_fp == table.roster_fingerprint(roster) &&
           table.rebuildable(roster) && table.digest_at(roster, mo.version, roster) == *mo.digest;
  }
  // Takes a restored moment again (readopt_restored()): at its own version `at`, or now.
  void take_again(SessionTable::Moment& mo, std::uint32_t roster, std::optional<std::uint64_t> at) {
    const std::int64_t when = mo.at_ms;  // same clock: the lifetime still counts from it
    const std::optional<proto::StateDigest> digest = mo.digest;
    std::optional<KeyRef> retires = std::move(mo.retires);
    mo = sessions.take_moment(mo.id, roster);
    mo.at_ms = when;
    mo.retires = std::move(retires);
    if (!at) return;
    table.live.erase(table.live.find(mo.version));
    mo.version = *at;
    mo.digest = digest;
    table.live.insert(mo.version);
    sessions.horizon = std::min(sessions.horizon, mo.version);
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
    for (auto& [key, s] : sessions.by_key) {
      bool changed = false;
      auto drop = [&](SessionTable::Moment& mo) {
        if (!mo.valid || mo.version < *since || !table.in_roster(mo.roster, cid)) return;
        sessions.release(mo);
        mo.digest.reset();
        mo.restored = false;
        changed = true;
      };
      drop(s.newest);
      if (s.previous) drop(*s.previous);
      if (changed) sessions.journal_put(s);
    }
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
  impl_->sessions.set_roster(user, visible, true);
}

void Engine::gap() {
  impl_->sessions.gap();
}

Engine::GapDecision Engine::close_gap(const std::set<std::string, std::less<>>& covered_domains) {
  Impl& m = *impl_;
  m.sessions.coverage.close(covered_domains);
  GapDecision out;
  for (auto& [user, u] : m.sessions.users) {
    bool uncovered = false;
    for (const auto& key : u.sessions) {
      SessionTable::Session& s = m.sessions.by_key.find(key)->second;
      bool changed = false;
      auto decide = [&](SessionTable::Moment& mo) {
        if (!mo.valid) return;
        if (m.sessions.covered(mo, mo.roster) && m.sessions.covered(mo, u.roster)) {
          ++out.kept;
          return;
        }
        m.sessions.release(mo);
        mo.digest.reset();  // nor can readopt_restored() take it again after a restart
        mo.restored = false;
        ++out.lost;
        changed = true;
      };
      decide(s.newest);
      if (s.previous) decide(*s.previous);
      if (changed) m.sessions.journal_put(s);
      uncovered = uncovered || changed;
    }
    if (uncovered) ++out.users_uncovered;
  }
  m.table.compact();
  return out;
}

void Engine::clear_presence() {
  impl_->table.clear_presence();
}

void Engine::begin_resync() {
  impl_->table.begin_resync();
}

std::size_t Engine::end_resync() {
  return impl_->table.end_resync();
}

Engine::ResyncEnd Engine::end_resync(const std::vector<ResourceRecord>& rows) {
  ResyncEnd out = adopt_resync_rows(rows);
  out.gone = end_resync();
  return out;
}

bool Engine::end_resync_step(std::size_t max, std::size_t& gone) {
  return impl_->table.end_resync_step(max, gone);
}

void Engine::cancel_resync() {
  impl_->table.cancel_resync();
}

Engine::ResyncEnd Engine::adopt_resync_rows(const std::vector<ResourceRecord>& rows) {
  Impl& m = *impl_;
  // The rows are the store's already; published again as this instance's observation they
  // could undo a newer change at a peer that applies our entries. Nor is what they leave
  // offline journaled (end_resync_step()).
  NoJournal off(m.journal);
  m.table.resync_unjournaled = true;
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
  return out;
}

proto::Result<proto::Enabled> Engine::enable(std::string_view user, std::string_view stream,
                                             std::string_view resource, std::string_view iq_id) {
  impl_->sessions.open_session(user, stream, resource, iq_id);
  impl_->table.compact();
  return proto::Enabled{impl_->opt.lifetime_s, impl_->sessions.digest_of_user(user)};
}

proto::Result<proto::Checkpointed> Engine::checkpoint(std::string_view user,
                                                      std::string_view stream,
                                                      std::string_view resource,
                                                      std::string_view prev,
                                                      std::string_view iq_id) {
  Impl& m = *impl_;
  auto it = m.sessions.find(user, stream, resource);
  if (it == m.sessions.by_key.end()) return proto::make_error(proto::AppCondition::kNotEnabled);
  if (m.sessions.expired(it->second)) {
    m.sessions.erase_session(it);
    m.table.compact();
    return proto::make_error(proto::AppCondition::kNotEnabled, "session expired");
  }
  SessionTable::Session& s = it->second;
  if (m.sessions.is_superseded(it))
    return proto::make_error(proto::AppCondition::kNotEnabled, "the session was synchronised");
  if (prev != s.newest.id)
    return proto::make_error(proto::AppCondition::kOutOfOrder, "prev is not the last key");
  m.sessions.prove(s);
  if (s.previous) m.sessions.release(*s.previous);
  s.previous = std::move(s.newest);
  s.newest = m.sessions.take_moment(iq_id, m.sessions.users.find(user)->second.roster);
  s.seq = ++m.sessions.seq;
  m.sessions.journal_put(s);
  m.table.compact();
  return proto::Checkpointed{m.sessions.digest_of_user(user)};
}

proto::Result<std::monostate> Engine::disable(std::string_view user, std::string_view stream,
                                              std::string_view resource) {
  Impl& m = *impl_;
  auto it = m.sessions.find(user, stream, resource);
  if (it == m.sessions.by_key.end() || m.sessions.is_superseded(it))
    return proto::make_error(proto::AppCondition::kNotEnabled);
  m.sessions.erase_session(it);
  m.table.compact();
  return std::monostate{};
}

proto::Result<proto::Delta> Engine::sync(std::string_view user, std::string_view new_stream,
                                         std::string_view new_resource, std::string_view iq_id,
                                         const proto::SyncKey& old_key, const Fits& fits) {
  Impl& m = *impl_;
  auto it = m.sessions.find(user, old_key.stream, old_key.resource);
  if (it == m.sessions.by_key.end()) return proto::make_error(proto::AppCondition::kUnknownKey);
  SessionTable::Session& s = it->second;
  const SessionTable::Moment* moment = SessionTable::moment_named(s, old_key.last);
  if (!moment) return proto::make_error(proto::AppCondition::kUnknownKey);
  // Quoting the newest key proves that its result arrived (it may be a sync's).
  const bool proves = moment == &s.newest;
  auto fail = [&](proto::AppCondition c, std::string text) {
    if (proves) m.sessions.prove(s);
    m.sessions.erase_session(it);
    m.table.compact();
    return proto::make_error(c, std::move(text));
  };
  if (m.sessions.expired(s)) return fail(proto::AppCondition::kExpired, {});
  if (!m.sessions.answerable(*moment))
    return fail(proto::AppCondition::kContinuityLost, "component had a gap since the key");
  std::uint32_t now = m.sessions.users.find(user)->second.roster;
  if (m.touches_unknown(moment->roster, now))
    return fail(proto::AppCondition::kContinuityLost,
                "a contact's presence could not be read; its state is unknown");
  if (!m.sessions.covered(*moment, moment->roster) || !m.sessions.covered(*moment, now))
    return fail(proto::AppCondition::kContinuityLost,
                "a contact's presence could not be re-established after the component's gap");
  DeltaCost cost;
  proto::Delta d = build_delta(m.table, moment->roster, moment->version, now, cost);
  if (d.items() > m.opt.limits.max_delta_items || (!d.empty() && cost.delta > cost.full))
    return fail(proto::AppCondition::kTooLarge, "a normal login is cheaper");
  d.lifetime = m.opt.lifetime_s;
  d.state = m.sessions.digest_of_user(user);
  // Before the key moves: an answer the transport cannot carry leaves the key valid.
  if (fits && !fits(d))
    return proto::make_error(proto::AppCondition::kTooLarge,
                             "the delta is larger than the server accepts in one stanza");
  if (proves) m.sessions.prove(s);
  m.sessions.open_after_sync(it, *moment, new_stream, new_resource, iq_id);
  m.table.compact();
  return d;
}

std::size_t Engine::expire() {
  Impl& m = *impl_;
  std::vector<std::string> dead;
  for (const auto& [key, s] : m.sessions.by_key)
    if (m.sessions.expired(s)) dead.push_back(key);
  for (const auto& key : dead) m.sessions.erase_session(m.sessions.by_key.find(key));
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
          m.sessions.set_roster(x.user, x.contacts, false);
        } else if constexpr (std::is_same_v<T, EraseSession>) {
          auto it = m.sessions.find(x.user, x.stream, x.resource);
          if (it != m.sessions.by_key.end()) {
            m.sessions.erase_session(it);
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
  SessionTable::Session& s = m.sessions.open_session(record.user, record.stream, record.resource,
                                                     record.newest.id, record.newest.retires);
  const proto::StateDigest here = m.sessions.digest_of_user(record.user);
  // A moment's digest is the client's state: the origin's, not this view when they differ.
  s.newest.digest = newest;
  if (!newest || *newest != here) m.sessions.release(s.newest);
  if (record.previous) {
    s.previous = m.sessions.take_moment(record.previous->id,
                                        m.sessions.users.find(record.user)->second.roster);
    s.previous->digest = previous;
    if (!previous || *previous != here) m.sessions.release(*s.previous);
  }
  m.table.compact();
}

std::optional<proto::StateDigest> Engine::digest_at(std::string_view user, std::string_view stream,
                                                    std::string_view resource,
                                                    std::string_view last) const {
  const Impl& m = *impl_;
  auto it = m.sessions.find(user, stream, resource);
  if (it == m.sessions.by_key.end()) return std::nullopt;
  const SessionTable::Session& s = it->second;
  const SessionTable::Moment* moment = SessionTable::moment_named(s, last);
  if (!moment || !m.sessions.answerable(*moment)) return std::nullopt;
  const std::uint32_t now = m.sessions.users.find(user)->second.roster;
  if (m.touches_unknown(moment->roster, now)) return std::nullopt;
  if (!m.sessions.covered(*moment, moment->roster) || !m.sessions.covered(*moment, now))
    return std::nullopt;
  return m.table.digest_at(moment->roster, moment->version, now);
}

void Engine::save_sessions(std::string_view user) {
  impl_->sessions.save_sessions(user);
}

void Engine::commit_sessions(std::string_view user) {
  impl_->sessions.drop_savepoint(user);
  impl_->table.compact();
}

void Engine::rollback_sessions(std::string_view user) {
  impl_->sessions.rollback_sessions(user);
}

std::size_t Engine::purge_user(std::string_view user, Source source) {
  Impl& m = *impl_;
  std::optional<NoJournal> off;
  if (source == Source::kReplicated) off.emplace(m.journal);
  auto uit = m.sessions.users.find(user);
  if (uit == m.sessions.users.end()) return 0;
  const std::vector<std::string> keys = uit->second.sessions;
  for (const auto& key : keys) m.sessions.erase_session(m.sessions.by_key.find(key));
  m.sessions.set_roster(user, {}, true);
  m.table.compact();
  return keys.size();
}

std::size_t Engine::invalidate_keys(std::string_view user) {
  Impl& m = *impl_;
  std::size_t n = 0;
  auto drop = [&](SessionTable::Session& s) {
    const bool recorded = s.newest.digest || (s.previous && s.previous->digest);
    auto kill = [&](SessionTable::Moment& mo) {
      if (mo.valid) ++n;
      m.sessions.release(mo);
      mo.digest.reset();  // nor can readopt_restored() take it again after a restart
      mo.restored = false;
    };
    kill(s.newest);
    if (s.previous) kill(*s.previous);
    if (recorded) m.sessions.journal_put(s);
  };
  if (user == "*") {
    for (auto& [key, s] : m.sessions.by_key) drop(s);
  } else if (auto uit = m.sessions.users.find(user); uit != m.sessions.users.end()) {
    for (const auto& key : uit->second.sessions) drop(m.sessions.by_key.find(key)->second);
  }
  m.table.compact();
  return n;
}

proto::PresenceState Engine::view(std::string_view user) const {
  const Impl& m = *impl_;
  auto it = m.sessions.users.find(user);
  if (it == m.sessions.users.end()) return {};
  return m.table.view_of(it->second.roster);
}

proto::StateDigest Engine::digest(std::string_view user) const {
  return impl_->sessions.digest_of_user(user);
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
  s.users = m.sessions.users.size();
  s.sessions = m.sessions.by_key.size();
  s.live_moments = m.table.live.size();
  s.version = m.table.version;
  s.epoch = m.sessions.epoch;
  return s;
}

Batch Engine::take_changes() {
  Batch out;
  out.swap(impl_->journal.batch);
  return out;
}

namespace {

// The newest version the image mentions (resources, tombstones, key moments).
std::uint64_t newest_version(const Image& image) {
  std::uint64_t v = 0;
  auto of = [&v](const std::optional<Versions>& x) {
    if (x) v = std::max(v, x->since);
  };
  for (const auto& r : image.resources) of(r.versions);
  for (const auto& t : image.tombstones) of(t.versions);
  for (const auto& s : image.sessions) {
    v = std::max(v, s.newest.version.value_or(0));
    if (s.previous) v = std::max(v, s.previous->version.value_or(0));
  }
  return v;
}

}  // namespace

void Engine::restore(const Image& image) {
  Impl& m = *impl_;
  m.sessions.epoch = std::max(image.epoch, m.sessions.epoch) + 1;
  if (m.journal.on) m.journal.batch.emplace_back(PutEpoch{m.sessions.epoch});
  m.table.version = std::max(m.table.version, newest_version(image)) + 1;
  m.table.load(image.resources, image.tombstones);
  for (const auto& r : image.rosters) m.sessions.set_roster(r.user, r.contacts, false);
  // An image without an epoch was written by an engine that never left its first one.
  m.sessions.restore(image.sessions, std::max<std::uint64_t>(image.epoch, 1));
  m.sessions.horizon = m.table.version;
}

std::size_t Engine::readopt_restored() {
  Impl& m = *impl_;
  std::size_t n = 0;
  for (auto& [key, s] : m.sessions.by_key) {
    bool moved = false;
    auto redo = [&](SessionTable::Moment& mo) {
      if (!mo.restored) return;
      mo.restored = false;
      auto uit = m.sessions.users.find(s.user);
      const std::uint32_t roster = uit == m.sessions.users.end() ? kNone : uit->second.roster;
      if (mo.valid) return;
      std::optional<std::uint64_t> at;
      if (m.rebuilt(mo, roster))
        at = mo.version;
      else if (!mo.digest || uit == m.sessions.users.end() ||
               *mo.digest != m.sessions.digest_of_user(s.user))
        return m.sessions.release(mo);  // unpins
      m.sessions.release(mo);
      m.take_again(mo, roster, at);
      moved = true;
      ++n;
    };
    redo(s.newest);
    if (s.previous) redo(*s.previous);
    if (moved) m.sessions.journal_put(s);
  }
  m.table.unversioned.clear();
  m.table.compact();
  return n;
}

}  // namespace rpsync::core
