// SPDX-License-Identifier: MIT
#include "plugin/service/service.h"

#include <algorithm>
#include <iterator>
#include <variant>

#include "protocol/ns.h"
#include "protocol/payload.h"
#include "protocol/state.h"

namespace rpsync::service {

struct Service::Request {
  xml::Element stanza;
  std::string_view kind, type, id, from, to;  // views into `stanza`
  const xml::Element* payload = nullptr;      // first child element, if any
  std::string user;                           // bare JID of `from`
  std::string resource;                       // resource of `from` ("" if bare)
  std::optional<proto::Request> parsed;       // set by admit() for rpsync requests
  std::string_view roster_source = "none";    // RosterFetch::Fetched::source once fetched

  explicit Request(const xml::Element& s) : stanza(s) { index(); }
  Request(const Request& o) : stanza(o.stanza), parsed(o.parsed) { index(); }
  Request& operator=(const Request&) = delete;

 private:
  void index() {
    kind = stanza.name();
    type = stanza.attr("type").value_or("");
    id = stanza.attr("id").value_or("");
    from = stanza.attr("from").value_or("");
    to = stanza.attr("to").value_or("");
    payload = stanza.children().empty() ? nullptr : &stanza.children().front();
    user = std::string(proto::bare_of(from));
    resource = user.size() < from.size() ? std::string(from.substr(user.size() + 1)) : "";
  }
};

namespace {

std::string_view domain_of(std::string_view bare) {
  auto at = bare.find('@');
  return at == std::string_view::npos ? bare : bare.substr(at + 1);
}

xml::Element iq_reply(const xml::Element& to_stanza, std::string_view type) {
  xml::Element iq("iq", std::string(ns::kComponent));
  iq.set_attr("type", std::string(type));
  if (auto id = to_stanza.attr("id")) iq.set_attr("id", std::string(*id));
  if (auto from = to_stanza.attr("from")) iq.set_attr("to", std::string(*from));
  if (auto to = to_stanza.attr("to")) iq.set_attr("from", std::string(*to));
  return iq;
}

proto::StanzaError not_ready(std::string text) {
  return proto::make_error(proto::AppCondition::kNotReady, std::move(text));
}

}  // namespace

const std::vector<Service::Route>& Service::routes() {
  static const std::vector<Route> table{
      {"presence", "", "", "", &Service::on_presence},
      {"iq", "get", ns::kDiscoInfo, "query", &Service::on_disco_info},
      {"iq", "get", ns::kDiscoItems, "query", &Service::on_disco_items},
      {"iq", "get", ns::kPing, "ping", &Service::on_ping},
      {"iq", "get", ns::kVersion, "query", &Service::on_version},
      {"iq", "", ns::kRpsync, "", &Service::on_rpsync},
      {"iq", "get", "", "", &Service::on_unsupported_iq},
      {"iq", "set", "", "", &Service::on_unsupported_iq},
      {"iq", "", "", "", &Service::on_ignored},  // results/errors not claimed by requests
      {"message", "", ns::kRpsync, "sessions-sent", &Service::on_sessions_sent},
      {"message", "", "", "", &Service::on_ignored},  // privilege advertisements: xmpp layer
  };
  return table;
}

Service::Service(ServiceConfig config, core::Engine& engine, store::AsyncStore& storage,
                 Transport& transport, log::Logger& logger, core::Clock clock)
    : config_(std::move(config)),
      engine_(engine),
      storage_(storage),
      transport_(transport),
      log_(logger),
      clock_(std::move(clock)),
      roster_({config_.component_jid, config_.roster_timeout, config_.roster_cache_contacts},
              transport_, log_, counters_) {
  start_gap_rules();
}

Service::Service(ServiceConfig config, core::Engine& engine, store::Store& store,
                 Transport& transport, log::Logger& logger, core::Clock clock)
    : config_(std::move(config)),
      engine_(engine),
      inline_(std::make_unique<store::InlineStore>(store)),
      storage_(*inline_),
      transport_(transport),
      log_(logger),
      clock_(std::move(clock)),
      roster_({config_.component_jid, config_.roster_timeout, config_.roster_cache_contacts},
              transport_, log_, counters_) {
  start_gap_rules();
}

Service::~Service() = default;

void Service::start_gap_rules() {
  if (!config_.close_gaps_per_user) return;
  // The start itself is a gap: keys restored (and taken again) from the store are
  // decided once the view is re-learned at the first connection.
  config_.on_connect = ServiceConfig::OnConnect::kResync;
  config_.gap_on_disconnect = false;
  gap_pending_ = true;
}

void Service::on_connected(bool privileged) {
  connected_ = true;
  privileged_ = privileged;
  view_pending_ = config_.learn_view_on_connect;
  if (!connection_begun_) begin_connection();
  log_.info("service", "server.connected", {{"privileged", privileged ? "yes" : "no"}});
}

// The first stanza of a connection or on_connected(), whichever comes first: the server
// may send presence (a re-send on connect) while the connection still waits for the
// privilege advertisement of another host, before on_connected().
void Service::begin_connection() {
  connection_begun_ = true;
  connected_ms_ = clock_();
  sessions_.reset(config_.domains);
  // The server re-sends every current presence on connect (Prosody, ejabberd with
  // mod_rpsync_gate); what we held may be stale after the gap, so start from nothing
  // rather than from a guess, or (shared store) re-learn it and journal only what really
  // changed.
  switch (config_.on_connect) {
    case ServiceConfig::OnConnect::kClear:
      engine_.clear_presence();
      break;
    case ServiceConfig::OnConnect::kResync:
      engine_.begin_resync();
      resyncing_ = true;
      ending_.reset();
      ++resync_run_;
      resync_start_ms_ = last_presence_ms_ = clock_();
      log_.info("service", "resync.started", {{"quiet_ms", config_.resync_quiet.count()}});
      break;
    case ServiceConfig::OnConnect::kKeep:
      break;
  }
  roster_.drop_cache("connected");
}

void Service::on_disconnected() {
  connected_ = false;
  connection_begun_ = false;
  resyncing_ = false;
  if (ending_) {
    // The remaining slices are cancelled: the next connect's re-learn starts over.
    engine_.cancel_resync();
    ending_.reset();
    ++resync_run_;
  }
  ++generation_;
  if (config_.gap_on_disconnect) engine_.gap();
  if (config_.close_gaps_per_user) gap_pending_ = true;
  queues_.clear();
  in_flight_ = 0;
  roster_.drop_cache("disconnected");
  persist(true);
  log_.warn(
      "service", "continuity.gap",
      {{"reason", "disconnected from server"},
       {"effect", config_.gap_on_disconnect     ? "older keys now fail with continuity-lost"
                  : config_.close_gaps_per_user ? "not-ready until continuity is decided per user"
                                                : "not-ready until group continuity is decided"}});
}

void Service::on_privileges(bool privileged) {
  privileged_ = privileged;
  roster_.drop_cache("privileges changed");
}

void Service::on_stanza(const xml::Element& stanza) {
  if (!connection_begun_) begin_connection();
  Request r(stanza);
  for (const auto& route : routes()) {
    if (route.kind != r.kind) continue;
    if (!route.type.empty() && route.type != r.type) continue;
    if (!route.ns.empty() && (!r.payload || r.payload->ns() != route.ns)) continue;
    if (!route.name.empty() && (!r.payload || r.payload->name() != route.name)) continue;
    (this->*route.handler)(r);
    return;
  }
  log_.debug("service", "stanza.dropped", {{"kind", r.kind}, {"from", r.from}});
}

void Service::tick() {
  const std::int64_t now = clock_();
  if (std::size_t n = engine_.expire()) log_.info("service", "sessions.expired", {{"count", n}});
  check_sessions_wait(now);
  expire_durability_waits(now);
  if (resyncing_ && !ending_ && resync_settled(now)) {
    start_resync_end(now);
  } else if (ending_ && !post_) {
    resync_slice();
  }
  if (unwritten_ > 0) {
    // A failed store is probed with a flush (a buffered write proves nothing), also while
    // presence keeps coming, so requests stop getting not-ready once it is back.
    persist(store_retry_due(now));
  } else if (unflushed_ && flushes_out_ == 0) {
    // Nothing new since the last tick: make what the store may still buffer durable, so
    // an idle instance's last changes reach the shared store and its feed within two
    // ticks (peers re-learning presence read them, plugin/feed/replica.h), not at the next
    // change or request.
    persist(true);
  } else if (store_retry_due(now)) {
    // Nothing new to write, but the store failed: find out whether it is back, so
    // requests stop getting not-ready without waiting for the next presence.
    persist(true);
  }
  // Forget rate windows older than a minute so the map stays bounded by active users.
  std::erase_if(rates_, [&](const auto& kv) { return now - kv.second.start_ms >= 60000; });
}

// The store failed and no flush is out: time to probe it again (at most once a second).
bool Service::store_retry_due(std::int64_t now) {
  if (store_ok_ || flushes_out_ > 0 || now - store_retry_ms_ < 1000) return false;
  store_retry_ms_ = now;
  return true;
}

bool Service::flush() {
  if (!persist(false)) return false;
  Status s = storage_.flush_and_wait(config_.store_timeout);
  if (!s) log_.error("service", "store.flush_failed", {{"error", s.message()}});
  note_store(s);
  return s.ok();
}

// ---- handlers ---------------------------------------------------------------

void Service::on_presence(const Request& r) {
  if (r.resource.empty() || r.user.empty()) return;
  if (resyncing_) last_presence_ms_ = clock_();
  if (r.type.empty()) {
    engine_.observe_available(r.from, proto::fields_from_presence(r.stanza));
  } else if (r.type == "unavailable") {
    engine_.observe_unavailable(r.from);
  } else {
    return;  // subscription management, probes and errors carry no state we track
  }
  ++counters_.presence_in;
  if (++unwritten_ >= config_.write_every) persist(false);
}

void Service::on_disco_info(const Request& r) {
  xml::Element query("query", std::string(ns::kDiscoInfo));
  if (auto node = r.payload->attr("node")) {
    reply_error(r, {proto::ErrorType::kCancel, proto::Condition::kItemNotFound,
                    proto::AppCondition::kNone, "no such node"});
    return;
  }
  auto& identity = query.add(xml::Element("identity", std::string(ns::kDiscoInfo)));
  identity.set_attr("category", "component");
  identity.set_attr("type", "presence");
  identity.set_attr("name", config_.name);
  for (std::string_view f : {ns::kDiscoInfo, ns::kRpsync, ns::kPing, ns::kVersion})
    query.add(xml::Element("feature", std::string(ns::kDiscoInfo))).set_attr("var", std::string(f));
  reply(r, std::move(query));
}

void Service::on_disco_items(const Request& r) {
  reply(r, xml::Element("query", std::string(ns::kDiscoItems)));
}

void Service::on_ping(const Request& r) {
  reply(r, std::nullopt);
}

void Service::on_version(const Request& r) {
  xml::Element query("query", std::string(ns::kVersion));
  query.add(xml::Element("name", std::string(ns::kVersion))).set_text(config_.name);
  query.add(xml::Element("version", std::string(ns::kVersion))).set_text(config_.version);
  reply(r, std::move(query));
}

void Service::on_sessions_sent(const Request& r) {
  note_sessions_sent(r.stanza);
}

void Service::on_unsupported_iq(const Request& r) {
  reply_error(r, {proto::ErrorType::kCancel, proto::Condition::kServiceUnavailable,
                  proto::AppCondition::kNone, ""});
}

void Service::on_ignored(const Request& r) {
  log_.debug("service", "stanza.ignored", {{"kind", r.kind}, {"type", r.type}, {"from", r.from}});
}

// ---- rpsync requests --------------------------------------------------------

void Service::on_rpsync(const Request& r) {
  if (r.type != "get" && r.type != "set") return on_ignored(r);
  if (xml::to_string(r.stanza).size() > config_.max_request_bytes) {
    ++counters_.oversized;
    return reply_error(
        r, proto::make_error(
               proto::AppCondition::kStanzaTooBig,
               "requests are limited to " + std::to_string(config_.max_request_bytes) + " bytes"));
  }
  auto request = std::make_unique<Request>(r);
  if (auto err = admit(*request)) {
    if (err->app == proto::AppCondition::kRateLimited) ++counters_.rate_limited;
    log_.info("service", "request.refused",
              {{"from", r.from},
               {"condition", proto::to_string(err->condition)},
               {"app", proto::to_string(err->app)}});
    return reply_error(r, *err);
  }
  if (in_flight_ >= config_.max_in_flight) {
    ++counters_.busy;
    log_.warn("service", "request.busy", {{"from", r.from}, {"in_flight", in_flight_}});
    return reply_error(r, proto::make_error(proto::AppCondition::kBusy,
                                            std::to_string(in_flight_) +
                                                " requests are in progress; try again later"));
  }
  auto& queue = queues_[r.user];
  queue.push_back(std::move(request));
  ++in_flight_;
  if (queue.size() == 1) start_next(r.user);
}

std::optional<proto::StanzaError> Service::check_bounds(const Request& r) const {
  const proto::Limits& l = config_.limits;
  if (r.id.empty() || r.id.size() > l.max_stanza_id)
    return proto::bad_request("the IQ 'id' must have 1 to " + std::to_string(l.max_stanza_id) +
                              " bytes");
  if (r.resource.size() > l.max_resource)
    return proto::bad_request("the resource must have 1 to " + std::to_string(l.max_resource) +
                              " bytes");
  if (r.from.size() > l.max_jid)
    return proto::bad_request("the 'from' JID exceeds " + std::to_string(l.max_jid) + " bytes");
  return std::nullopt;
}

std::optional<proto::StanzaError> Service::admit(Request& r) {
  if (r.resource.empty() || r.user.find('@') == std::string::npos ||
      !config_.domains.contains(domain_of(r.user)))
    return proto::StanzaError{proto::ErrorType::kAuth, proto::Condition::kForbidden,
                              proto::AppCondition::kNone,
                              "this service is only for users of its server's domains"};
  const std::int64_t now = clock_();
  auto& window = rates_[r.user];
  if (now - window.start_ms >= 60000) window = {now, 0};
  if (++window.count > config_.requests_per_minute)
    return proto::make_error(
        proto::AppCondition::kRateLimited,
        "more than " + std::to_string(config_.requests_per_minute) + " requests in a minute");
  if (auto bad = check_bounds(r)) return bad;
  auto parsed = proto::parse_request(r.stanza, config_.limits);
  if (!parsed) return parsed.error();
  r.parsed = std::move(parsed).value();
  if (r.type != "set") return proto::bad_request("rpsync requests are IQs of type 'set'");
  if (!connected_) return not_ready("not connected to the server");
  if (!privileged_) return not_ready("the server has not granted roster and presence privileges");
  if (!store_ok_) return not_ready("the store is unavailable");
  if (resyncing_) return not_ready("re-learning presence after connecting to the server");
  if (view_pending_) return not_ready("learning what the server reports (disco#info)");
  if (awaiting_sessions())
    return not_ready("waiting for the server's current presence (<sessions-sent/> from " +
                     sessions_.missing() + ")");
  if (!blocked_.empty()) return not_ready(blocked_);
  return std::nullopt;
}

void Service::start_next(const std::string& user) {
  auto it = queues_.find(user);
  if (it == queues_.end() || it->second.empty()) return;
  const Request& r = *it->second.front();
  if (std::holds_alternative<proto::Disable>(*r.parsed)) return run(r, {});
  const std::uint64_t generation = generation_;
  roster_.fetch(user, [this, user, generation](proto::Result<RosterFetch::Fetched> roster) {
    if (generation != generation_) return;  // disconnected meanwhile; queues are gone
    auto q = queues_.find(user);
    if (q == queues_.end() || q->second.empty()) return;
    Request& front = *q->second.front();
    if (!roster && roster.error().condition == proto::Condition::kForbidden) {
      // Privileges withdrawn without notice (ejabberd does this to one of two connections
      // sharing a component name): presence may have stopped arriving, so it is a gap.
      privileged_ = false;
      engine_.gap();
      roster_.drop_cache("privileges lost");
      log_.error("service", "privileges.lost",
                 {{"effect", "keys invalidated; answering not-ready until reconnected"},
                  {"likely_cause", "another connection uses the same component name"}});
    }
    if (!roster) {
      log_.warn("service", "roster.fetch_failed", {{"user", user}, {"error", roster.error().text}});
      reply_error(front, not_ready("could not fetch the roster: " + roster.error().text));
      return finish(user);
    }
    front.roster_source = roster->source;
    if (config_.server_view == ServerView::kUnreported &&
        std::holds_alternative<proto::Sync>(*front.parsed))
      return verify_then_run(user, std::move(roster->visible));
    run(front, *roster->visible);
  });
}

void Service::run(const Request& r, const std::vector<std::string>& visible) {
  const proto::Request& request = *r.parsed;  // queued requests were parsed by admit()
  if (!store_usable()) {
    reply_error(r, not_ready("the store is unavailable"));
    return finish(r.user);
  }
  if (!std::holds_alternative<proto::Disable>(request)) engine_.set_roster(r.user, visible);
  engine_.save_sessions(r.user);
  Answer answer = std::visit([&](const auto& req) { return execute(r, req, visible); }, request);

  // Acknowledged means durable: the answer waits for the flush of what it promises. One
  // that fails or times out turns it into not-ready, and a request answered not-ready
  // moves nothing (its key stays where it was), so the client's retry works once the
  // store does.
  const std::uint64_t token = ++tokens_;
  const std::string user = r.user;  // r may be gone when persist() completes inline
  awaiting_[user] = {token, clock_() + config_.store_timeout.count(), std::move(answer)};
  if (!persist(true, [this, user, token](const Status& s) { durable(user, token, s); }))
    durable(user, token, Status::unavailable("store: its queue is full"));
}

// Whether a request may change the engine now. Inline with check_store_first (a shared
// store): the store must make what is pending durable BEFORE the engine changes, since a
// sync retires its key, and with a shared store the retirement may reach every instance
// even when the final flush reports a failure. Otherwise (the store is this instance's
// own) a failed final flush is undone completely by rolling the user's sessions back, so
// a store known to work (its last outcome) with room in its queue is enough: one commit
// per request instead of two.
bool Service::store_usable() {
  if (inline_ && config_.check_store_first) {
    bool ok = false;  // the inline store completes before persist() returns
    persist(true, [&ok](const Status& s) { ok = s.ok(); });
    return ok;
  }
  return store_ok_ && !storage_.full();
}

void Service::durable(const std::string& user, std::uint64_t token, const Status& s) {
  auto it = awaiting_.find(user);
  if (it == awaiting_.end() || it->second.token != token) return;  // timed out already
  Answer answer = std::move(it->second.answer);
  awaiting_.erase(it);
  if (s) {
    engine_.commit_sessions(user);
  } else {
    engine_.rollback_sessions(user);
    answer.error = not_ready("the store could not make the change durable");
    log_.warn("service", "request.not_durable", {{"user", user}, {"error", s.message()}});
  }
  auto q = queues_.find(user);
  if (q == queues_.end() || q->second.empty()) return;  // disconnected meanwhile
  const Request& r = *q->second.front();
  if (answer.error)
    reply_error(r, *answer.error);
  else
    reply(r, std::move(answer.payload));
  finish(user);
}

void Service::expire_durability_waits(std::int64_t now) {
  std::vector<std::pair<std::string, std::uint64_t>> late;
  for (const auto& [user, a] : awaiting_)
    if (now >= a.deadline_ms) late.emplace_back(user, a.token);
  if (late.empty()) return;
  const Status s = Status::timeout("store: not durable within " +
                                   std::to_string(config_.store_timeout.count()) + " ms");
  note_store(s);
  for (const auto& [user, token] : late) durable(user, token, s);
}

namespace {

// The answer payload or error of an engine call, counting a success in `counter`.
template <class R>
Service::Answer answer_of(R res, std::uint64_t& counter) {
  Service::Answer a;
  if (!res) {
    a.error = res.error();
    return a;
  }
  ++counter;
  if constexpr (!std::is_same_v<std::decay_t<decltype(*res)>, std::monostate>)
    a.payload = proto::to_xml(*res);
  return a;
}

}  // namespace

Service::Answer Service::execute(const Request& r, const proto::Enable& e,
                                 const std::vector<std::string>&) {
  return answer_of(engine_.enable(r.user, e.stream, r.resource, r.id), counters_.enables);
}

Service::Answer Service::execute(const Request& r, const proto::Checkpoint& c,
                                 const std::vector<std::string>&) {
  return answer_of(engine_.checkpoint(r.user, c.stream, r.resource, c.prev, r.id),
                   counters_.checkpoints);
}

Service::Answer Service::execute(const Request& r, const proto::Disable& d,
                                 const std::vector<std::string>&) {
  return answer_of(engine_.disable(r.user, d.stream, r.resource), counters_.disables);
}

Service::Answer Service::execute(const Request& r, const proto::Sync& s,
                                 const std::vector<std::string>& visible) {
  ++counters_.syncs;
  std::string unfit, unproven;
  auto res = engine_.sync(r.user, s.stream, r.resource, r.id, s.key,
                          provable_fit(r.stanza, &unfit, &unproven));
  if (!res && !unproven.empty())
    res = proto::make_error(proto::AppCondition::kContinuityLost, unproven);
  else if (!res && !unfit.empty())
    res = proto::make_error(proto::AppCondition::kTooLarge, unfit);
  Answer a;
  if (!res) {
    a.error = res.error();
    ++counters_.failures[std::string(proto::to_string(res.error().app))];
    log_.info("service", "sync.failed",
              {{"user", r.user}, {"reason", proto::to_string(res.error().app)}});
    return a;
  }
  a.payload = proto::to_xml(*res);
  ++counters_.deltas;
  if (res->empty()) ++counters_.empty_deltas;
  const auto bytes = xml::to_string(*a.payload).size();
  const auto full = full_state_bytes(r.user, visible);
  counters_.delta_bytes += bytes;
  counters_.full_bytes += full;
  log_.info("service", "sync.delta",
            {{"user", r.user},
             {"items", res->items()},
             {"bytes", bytes},
             {"full_bytes_estimate", full},
             {"roster", r.roster_source}});
  return a;
}

void Service::finish(std::string user) {
  auto it = queues_.find(user);
  if (it == queues_.end()) return;
  if (!it->second.empty()) {
    it->second.pop_front();
    --in_flight_;
  }
  if (it->second.empty()) {
    queues_.erase(it);
    return;
  }
  start_next(user);
}

bool Service::persist(bool durable, store::AsyncStore::Completion then) {
  if (storage_.full()) {
    // The changes stay in the engine until the store takes them (the next tick).
    note_store(Status::unavailable("store: its queue is full"));
    return false;
  }
  core::Batch batch = engine_.take_changes();
  unwritten_ = 0;
  since_flush_.add(batch);
  // Bounded replay memory: a long run of writes without a request still gets flushed.
  if (since_flush_.size() >= 16 * std::max<std::size_t>(config_.write_every, 1)) durable = true;
  // After a failure the store may hold part of what it was given: write again what the
  // answers and a restart depend on (PendingWrites says what).
  core::Batch out;
  if (rewrite_) {
    out = since_flush_.all();
    out.insert(out.end(), std::make_move_iterator(batch.begin()),
               std::make_move_iterator(batch.end()));
  } else {
    out = std::move(batch);
  }
  rewrite_ = false;
  if (!out.empty()) {
    ++handed_;
    unflushed_ = true;
    storage_.write(std::move(out), [this](const Status& s) {
      if (s) return;  // a buffered write says nothing of the store's health: flushes do
      log_.error("service", "store.write_failed", {{"error", s.message()}});
      rewrite_ = true;
      note_store(s);
    });
  }
  if (!durable) return true;
  ++flushes_out_;
  storage_.flush([this, then = std::move(then), handed = handed_](const Status& s) {
    --flushes_out_;
    if (!s) {
      log_.error("service", "store.flush_failed", {{"error", s.message()}});
      rewrite_ = true;
    } else if (handed == handed_) {  // nothing handed over after this flush
      unflushed_ = false;
      since_flush_.clear();
    }
    note_store(s);
    if (then) then(s);
  });
  return true;
}

void Service::note_store(const Status& s) {
  if (s.ok() != store_ok_) log_.warn("service", "store.state", {{"ok", s.ok() ? "yes" : "no"}});
  store_ok_ = s.ok();
}

// ---- replies ----------------------------------------------------------------

void Service::reply(const Request& r, std::optional<xml::Element> payload) {
  auto iq = iq_reply(r.stanza, "result");
  if (payload) iq.add(std::move(*payload));
  if (!transport_.send(std::move(iq)))
    log_.warn("service", "reply.dropped", {{"to", r.from}, {"id", r.id}});
}

void Service::reply_error(const Request& r, const proto::StanzaError& e) {
  reply_error_to(r.stanza, e);
}

void Service::reply_error_to(const xml::Element& stanza, const proto::StanzaError& e) {
  ++counters_.errors;
  auto iq = iq_reply(stanza, "error");
  iq.add(proto::to_xml(e, ns::kComponent));
  if (!transport_.send(std::move(iq)))
    log_.warn("service", "reply.dropped", {{"to", stanza.attr("from").value_or("")}});
}

std::uint64_t Service::full_state_bytes(std::string_view user,
                                        const std::vector<std::string>& visible) const {
  // What a normal login would have cost (the baseline measured in bench/reconnect): one presence
  // stanza per available resource of a visible contact, and one unavailable reply (to the probe)
  // per visible contact with none. Sizes are those of the serialised stanzas.
  std::uint64_t total = 0;
  std::set<std::string_view> online;
  const proto::PresenceState state = engine_.view(user);
  for (const auto& [jid, fields] : state) {
    xml::Element p("presence", std::string(ns::kClient));
    p.set_attr("from", jid);
    p.set_attr("to", std::string(user));
    proto::add_presence_children(p, fields);
    total += xml::to_string(p, ns::kClient).size();
    online.insert(proto::bare_of(jid));
  }
  for (const auto& contact : visible) {
    if (online.contains(contact)) continue;
    xml::Element p("presence", std::string(ns::kClient));
    p.set_attr("from", contact);
    p.set_attr("to", std::string(user));
    p.set_attr("type", "unavailable");
    total += xml::to_string(p, ns::kClient).size();
  }
  return total;
}

}  // namespace rpsync::service
