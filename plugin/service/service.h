// SPDX-License-Identifier: MIT
// The component's service: stanzas in, engine and store, stanzas out.
//
// Every stanza from the server goes to on_stanza(), which finds its handler in one
// dispatch table (service.cpp, `routes()`): presence is ingested into the engine; rpsync
// requests (spec "Use Cases") are checked (served domain, rate, readiness), serialised
// per user, completed with a privileged roster fetch, run on the engine, made durable in
// the store, then answered; disco#info/items, ping and version are answered directly.
// Every malformed, oversized, unauthorised or out-of-order request gets the spec's stanza
// error; the connection is never closed for bad input. At most max_in_flight requests of
// all users together are queued or running; more get <busy/> at once.
//
// Storage never blocks the loop: changes and flushes are handed to an AsyncStore
// (plugin/store/async_store.h; on the component a worker thread owns the Store). A request
// is answered only once its flush's completion says what it promises is durable; while it
// waits, presence, pings and other users' requests go on (each user's own requests stay in
// order). A request not durable within store_timeout (checked on tick()), or whose flush
// fails, or that finds the store's queue full, is answered not-ready and moves nothing (the
// engine's sessions of that user are rolled back, Engine::save_sessions), and the sessions, rosters
// and epoch handed to the store since its last good flush are written again once it works
// (PendingWrites), so the client's retry is answered like the first.
//
// Roster fetches: servers push no roster changes to a component, so every
// enable/checkpoint/sync asks the server for the user's roster (roster_fetch.h, with the
// versioned roster cache).
//
// Threading: single-threaded; the app calls everything from its event loop.
// Lifetime: engine, store, transport and logger must outlive the Service.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/core/engine.h"
#include "plugin/log/log.h"
#include "plugin/service/counters.h"
#include "plugin/service/pending_writes.h"
#include "plugin/service/roster_cache.h"
#include "plugin/service/roster_fetch.h"
#include "plugin/service/server_view.h"
#include "plugin/service/transport.h"
#include "plugin/store/async_store.h"
#include "plugin/store/store.h"
#include "protocol/error.h"
#include "protocol/xml.h"

namespace rpsync::service {

struct ServiceConfig {
  std::string component_jid;                   // e.g. rpsync.example.test
  std::set<std::string, std::less<>> domains;  // users of these domains may use it
  std::uint32_t requests_per_minute = 30;      // per user, all rpsync requests
  std::size_t max_request_bytes = 16384;       // serialised rpsync request, else too-big
  // Largest answer the server accepts from the component (Prosody's
  // component_stanza_size_limit, 512 KiB by default): a delta that would not fit is
  // answered too-large before its key moves (skipped.cpp, delta_fit()).
  std::size_t max_answer_bytes = 512 * 1024;
  // rpsync requests received and not yet answered, all users together (queued or running);
  // above it a request gets resource-constraint / <busy/> at once and is not queued.
  std::size_t max_in_flight = 1024;
  // What the server reports (server_view.h). kUnreported: every resource a sync answer
  // would show as available is pinged first (verify_then_run()) and the sync fails unless
  // each is proven gone; a delta adding a contact fails too. kReported: requests wait for
  // every served host's <sessions-sent/> after a connect.
  ServerView server_view = ServerView::kResends;
  // On connect, answer requests not-ready until the app has said what the server reports
  // (set_server_view(), learnt from disco#info): a guess would be wrong on ejabberd.
  bool learn_view_on_connect = false;
  // kReported: longest wait for every host's <sessions-sent/> after a connect; then the
  // connection is treated as kUnreported (logged as sessions.incomplete).
  std::chrono::milliseconds sessions_wait{30000};
  std::chrono::milliseconds verify_timeout{2000};   // per ping (kUnreported)
  std::chrono::milliseconds roster_timeout{10000};  // privileged roster fetch
  // Contacts kept in the roster cache (RosterCache); 0 = no cache, every fetch is full.
  std::size_t roster_cache_contacts = 200000;
  std::size_t write_every = 1024;  // hand engine changes to the store after N
  // Longest a request waits for its changes to become durable; then not-ready (and the
  // store is treated as failed until it answers again). Checked on tick().
  std::chrono::milliseconds store_timeout{5000};
  // Inline store only: make what is pending durable before a request changes the engine
  // (one more commit per request). Needed when the store is shared by several instances
  // (a retirement may reach the others even when its flush reports a failure); a store of
  // this instance's own is restored completely by the rollback of a failed request.
  bool check_store_first = true;
  // What a (re)connect does to the presence held (Prosody re-sends every current presence
  // of its users on connect, ejabberd nothing; docs/architecture.md):
  //  kClear  clear_presence(): start from nothing (one instance; its store is its own)
  //  kResync begin_resync() on connect, end_resync() once no presence arrived for
  //          resync_quiet (at most resync_max after connecting): only real changes are
  //          journaled, so peers sharing the store and feed see no erase storm (Prosody
  //          with the feed). Requests get not-ready until it ends.
  //          With ServerView::kReported the resync ends when every host has sent
  //          <sessions-sent/> (no quiet guess).
  //  kKeep   keep what is held (ejabberd without session reports, with the feed: peers of
  //          the same server keep it current; syncs prove resources, kUnreported)
  enum class OnConnect { kClear, kResync, kKeep } on_connect = OnConnect::kClear;
  // Whether a disconnect invalidates the keys at once (engine gap()). False when someone
  // else decides (several instances: a peer of the observer group may have observed
  // throughout, feed/replica.h); requests get not-ready meanwhile anyway.
  bool gap_on_disconnect = true;
  // One instance (its store is its own): a disconnect or a start is a gap decided per
  // user once the view is re-learned (gap_decision.cpp, Engine::close_gap()). Implies
  // on_connect = kResync and gap_on_disconnect = false. The resync ends as soon as every
  // served host has sent <sessions-sent/> (the server's re-send is complete); keys then
  // stay valid for users whose contacts are all on hosts that sent it; every other key
  // from before fails with continuity-lost (all of them when no host sent it: a server
  // without the witness, whose resync ends after resync_quiet as before).
  bool close_gaps_per_user = false;
  std::chrono::milliseconds resync_quiet{2000};
  std::chrono::milliseconds resync_max{30000};
  // kResync: the end of a re-learn takes what was not confirmed offline in slices of at
  // most this many resources, one per loop turn (set_post()) or per tick, so the loop
  // keeps answering (pings, presence) while a million go offline; requests get not-ready
  // until the last slice (resync_end.cpp). Config `resync.slice`.
  std::size_t resync_slice = 2000;
  std::string name = "rpsync";
  std::string version = "0.1.0";
  proto::Limits limits = proto::kDefaultLimits;
};

class Service {
 public:
  // Every store call inline, on the caller's thread (tests, tools).
  Service(ServiceConfig config, core::Engine& engine, store::Store& store, Transport& transport,
          log::Logger& logger, core::Clock clock);
  // Store calls handed to `storage` (the component: a StoreWorker), completions on the loop.
  Service(ServiceConfig config, core::Engine& engine, store::AsyncStore& storage,
          Transport& transport, log::Logger& logger, core::Clock clock);
  ~Service();
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Connection events. `privileged`: the server granted roster get + presence roster.
  void on_connected(bool privileged);
  // Privileges changed while connected (ejabberd grants them asynchronously).
  void on_privileges(bool privileged);
  void on_disconnected();
  // A stanza from the server (namespace jabber:component:accept).
  void on_stanza(const xml::Element& stanza);
  // The head of a stanza the stream parser skipped for a limit (skipped.cpp): a request
  // is answered with stanza-too-big; an unreadable available presence makes only its
  // sender's resource unknown (Engine::observe_unknown), an unavailable one is applied.
  void on_skipped(const xml::Element& head, xml::SkipReason why);
  // Periodic work (call every ~50-1000 ms): expire sessions, hand changes to the store,
  // and flush it on the first tick without new changes (an idle instance's last changes
  // are durable, and in a shared store visible to peers, within two ticks).
  void tick();
  // Hands pending engine changes to the store and waits until they are durable, at most
  // store_timeout (start-up, reload, shutdown: the only calls that block on storage).
  bool flush();
  // A reason of the app's to answer rpsync requests with not-ready (e.g. the change feed
  // is down or catching up); empty clears it. Other requests (disco, ping) are answered.
  void set_blocked(std::string why) { blocked_ = std::move(why); }
  // kResync: asked once when a resync ends; rows returned decide what the server did not
  // re-send (Engine::end_resync(rows)), nullopt ends it as usual (unmentioned = offline).
  using ResyncWitness = std::function<std::optional<std::vector<core::ResourceRecord>>()>;
  void set_resync_witness(ResyncWitness w) { witness_ = std::move(w); }
  // Runs a function on the event loop after what is queued (asio::post): the slices of
  // the end of a re-learn follow each other without waiting for a tick. Without it, one
  // slice runs per tick() (tests).
  using Post = std::function<void(std::function<void()>)>;
  void set_post(Post post) { post_ = std::move(post); }
  const ServiceConfig& config() const { return config_; }
  // Settings a SIGHUP reload changes in place (plugin/app/reload.h).
  void set_request_limits(std::uint32_t requests_per_minute, std::size_t max_request_bytes) {
    config_.requests_per_minute = requests_per_minute;
    config_.max_request_bytes = max_request_bytes;
  }
  // What the server reports, learnt by the app at connect (plugin/app/server_probe.h);
  // ends the not-ready of learn_view_on_connect.
  void set_server_view(ServerView view);
  ServerView server_view() const { return config_.server_view; }

  const Counters& counters() const { return counters_; }
  bool ready() const {
    return connected_ && privileged_ && store_ok_ && !resyncing_ && blocked_.empty() &&
           !view_pending_ && !awaiting_sessions();
  }
  // Connected and privileged: presence is arriving (what group continuity vouches for).
  bool observing() const { return connected_ && privileged_; }
  bool resyncing() const { return resyncing_; }
  const RosterCache& roster_cache() const { return roster_.cache(); }

  struct Request;  // a parsed IQ (service.cpp)
  // What an rpsync request is answered with: a payload (none for an empty result) or an
  // error.
  struct Answer {
    std::optional<proto::StanzaError> error;
    std::optional<xml::Element> payload;
  };

 private:
  using Handler = void (Service::*)(const Request&);
  struct Route {
    std::string_view kind;  // iq / presence / message
    std::string_view type;  // iq type, or "" for any
    std::string_view ns;    // payload namespace, "" for any
    std::string_view name;  // payload element, "" for any
    Handler handler;
  };
  static const std::vector<Route>& routes();

  // handlers (one per route)
  void on_presence(const Request& r);
  void on_disco_info(const Request& r);
  void on_disco_items(const Request& r);
  void on_ping(const Request& r);
  void on_version(const Request& r);
  void on_rpsync(const Request& r);
  void on_sessions_sent(const Request& r);
  void on_unsupported_iq(const Request& r);
  void on_ignored(const Request& r);

  // rpsync request pipeline
  // Checks a request and, when it passes, stores its parsed payload in r.parsed.
  std::optional<proto::StanzaError> admit(Request& r);
  // The spec's bounds on the IQ itself (id, from's resource, from): bad-request.
  std::optional<proto::StanzaError> check_bounds(const Request& r) const;
  void start_next(const std::string& user);
  // Runs an admitted request on the engine (the one dispatch on its kind: execute()),
  // makes the change durable and answers.
  void run(const Request& r, const std::vector<std::string>& visible);
  Answer execute(const Request& r, const proto::Enable& e, const std::vector<std::string>&);
  Answer execute(const Request& r, const proto::Checkpoint& c, const std::vector<std::string>&);
  Answer execute(const Request& r, const proto::Disable& d, const std::vector<std::string>&);
  Answer execute(const Request& r, const proto::Sync& s, const std::vector<std::string>& visible);
  void verify_then_run(const std::string& user, RosterCache::Visible visible);
  void note_sessions_sent(const xml::Element& message);  // on_sessions_sent()
  void begin_connection();  // what a new connection resets (on_connected())
  // kReported and not every host has sent <sessions-sent/> since the connect.
  bool awaiting_sessions() const {
    return config_.server_view == ServerView::kReported && !sessions_.complete();
  }
  void check_sessions_wait(std::int64_t now);  // kReported: gives up after sessions_wait
  bool resync_settled(std::int64_t now) const;
  // The end of a re-learn in slices (resync_end.cpp): started by tick() once settled,
  // one slice per loop turn, resync.done after the last.
  void start_resync_end(std::int64_t now);
  void resync_slice();
  void post_resync_slice();
  void finish_resync();
  // close_gaps_per_user: the start is a gap, and a disconnect leaves one to decide.
  void start_gap_rules();
  // close_gaps_per_user: the end of a resync that follows a gap (gap_decision.cpp).
  void close_gap();
  void finish(std::string user);  // by value: it destroys the request that owns r.user
  // Hands the engine's changes to the store and, when `durable`, a flush after them whose
  // outcome `then` gets. False (nothing taken from the engine) when the store's queue is
  // full.
  bool persist(bool durable, store::AsyncStore::Completion then = {});
  bool store_usable();                     // run(): may a request change the engine now
  bool store_retry_due(std::int64_t now);  // tick(): probe a failed store with a flush
  void note_store(const Status& s);        // the store's last outcome -> store_ok_, logged once
  // A request's flush completed (or timed out): commit or roll back, then answer.
  void durable(const std::string& user, std::uint64_t token, const Status& s);
  void expire_durability_waits(std::int64_t now);

  // sizes (skipped.cpp)
  void skipped_presence(const std::string& from, std::string_view type);
  // Whether a finished delta fits the answer to `request` (protocol limits and
  // max_answer_bytes); on false, `why` (if set) says what did not fit.
  core::Engine::Fits delta_fit(const xml::Element& request, std::string* why) const;
  // delta_fit(), and first (kUnreported) whether the delta can be proven: on false
  // `unproven` says why not (server_view.h), else `unfit` may (delta_fit()).
  core::Engine::Fits provable_fit(const xml::Element& request, std::string* unfit,
                                  std::string* unproven) const;
  // kUnreported: the pings of verify_then_run() are back.
  struct Verification;
  void verified(const std::string& user, const Verification& v);

  // replies
  void reply(const Request& r, std::optional<xml::Element> payload);
  void reply_error(const Request& r, const proto::StanzaError& e);
  void reply_error_to(const xml::Element& stanza, const proto::StanzaError& e);
  std::uint64_t full_state_bytes(std::string_view user,
                                 const std::vector<std::string>& visible) const;

  ServiceConfig config_;
  core::Engine& engine_;
  std::unique_ptr<store::InlineStore> inline_;  // set by the inline constructor
  store::AsyncStore& storage_;
  Transport& transport_;
  log::Logger& log_;
  core::Clock clock_;
  Counters counters_;
  bool connected_ = false;
  bool privileged_ = false;
  bool store_ok_ = true;
  std::int64_t store_retry_ms_ = 0;  // last retry of a failed store
  ResyncWitness witness_;
  bool unflushed_ = false;       // written to the store since its last successful flush
  PendingWrites since_flush_;    // sessions/rosters/epoch handed over since the last good flush
  bool rewrite_ = false;         // a write or flush failed: hand it all of since_flush_ again
  std::uint64_t handed_ = 0;     // writes handed to the store
  std::size_t flushes_out_ = 0;  // flushes handed over, completion not back yet
  // Requests whose answer waits for durability, by user (at most one per user).
  struct Awaiting {
    std::uint64_t token = 0;
    std::int64_t deadline_ms = 0;
    Answer answer;
  };
  std::map<std::string, Awaiting, std::less<>> awaiting_;
  std::uint64_t tokens_ = 0;
  bool resyncing_ = false;  // OnConnect::kResync between connect and its last slice
  // The end of a re-learn under way (settled, slices remain).
  struct ResyncEnding {
    core::Engine::ResyncEnd end;
    bool witnessed = false;  // rows from the witness decided what the server left out
    std::int64_t settled_ms = 0;
    std::size_t slices = 0;
    double slice_max_ms = 0;  // the longest slice (steady clock)
    std::chrono::steady_clock::time_point started;
  };
  std::optional<ResyncEnding> ending_;
  std::uint64_t resync_run_ = 0;  // bumped when a re-learn starts or is cancelled
  Post post_;
  std::shared_ptr<bool> life_ = std::make_shared<bool>(true);  // posted slices check it
  bool gap_pending_ = false;  // close_gaps_per_user: a gap awaits its decision
  std::int64_t resync_start_ms_ = 0;
  std::int64_t last_presence_ms_ = 0;
  std::int64_t connected_ms_ = 0;
  bool connection_begun_ = false;  // begin_connection() ran for this connection
  bool view_pending_ = false;      // learn_view_on_connect: set_server_view() not called yet
  SessionsSent sessions_;          // <sessions-sent/> of this connection (kReported)
  std::string blocked_;
  std::size_t unwritten_ = 0;     // engine changes not yet handed to the store
  std::uint64_t generation_ = 0;  // bumped on disconnect: late roster replies are dropped
  RosterFetch roster_;

  struct RateWindow {
    std::int64_t start_ms = 0;
    std::uint32_t count = 0;
  };
  std::map<std::string, RateWindow, std::less<>> rates_;
  // Requests waiting per user; the front one is running.
  std::map<std::string, std::deque<std::unique_ptr<Request>>, std::less<>> queues_;
  std::size_t in_flight_ = 0;  // requests in queues_, all users
};

}  // namespace rpsync::service
