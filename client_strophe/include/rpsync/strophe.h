/* SPDX-License-Identifier: MIT */
/*
 * librpsync-strophe: rpsync (roster presence sync, xep_draft/rpsync.xml) for libstrophe
 * 0.12 clients. C11; include it from C or C++.
 *
 * An rpsync_strophe_t is attached to one xmpp_conn_t. It finds the rpsync component of
 * the account's server (disco#items + disco#info), enables the session once the presence
 * flood after a full login settled, checkpoints while online and at a graceful logout,
 * and on a reconnect sends <sync/> before the initial presence, applies the delta to its
 * presence cache, verifies it against the announced digest and only then lets the initial
 * presence go out (marked <synced/> when the server runs the presence gate). Every
 * failure falls back to a full login and reports why. Key, presence snapshot and the
 * versioned roster persist in an SQLite file (rpsync_strophe_open_state).
 *
 * Conventions (libstrophe's):
 *   - functions returning int return XMPP_EOK (0) on success, XMPP_EINVOP for a NULL
 *     argument or a call in the wrong state, XMPP_EMEM when memory ran out, XMPP_EINT
 *     for anything else (an I/O error on the state file); they never throw or abort.
 *   - callbacks receive the handle and the `userdata` given at creation; pointers passed
 *     to callbacks are valid only during the call.
 *   - the caller keeps ownership of every stanza it passes in (the library copies).
 *   - single-threaded: call everything from the thread that runs the xmpp_ctx_t's event
 *     loop (xmpp_run / xmpp_run_once). Timers are libstrophe timed handlers.
 *   - the library allocates with malloc/new, never with the xmpp_ctx_t's allocator.
 *
 * Call order:
 *   conn = xmpp_conn_new(ctx); xmpp_conn_set_jid(conn, ...); xmpp_conn_set_pass(...);
 *   h = rpsync_strophe_new(conn, &options, &callbacks, userdata);
 *   rpsync_strophe_open_state(h, "state.db");        (optional: persist across restarts)
 *   rpsync_strophe_connect_client(h, NULL, 0, conn_handler, app_userdata);
 *   in conn_handler, on XMPP_CONN_CONNECT:
 *       rpsync_strophe_roster_request(h);            (optional: versioned roster)
 *       rpsync_strophe_send_initial_presence(h, presence);
 *   xmpp_run(ctx) ...;  to leave: rpsync_strophe_logout(h) (checkpoint, then disconnect)
 *   after the loop: rpsync_strophe_free(h); xmpp_conn_release(conn); ...
 */
#ifndef RPSYNC_STROPHE_H
#define RPSYNC_STROPHE_H

#include <stddef.h>
#include <stdint.h>
#include <strophe.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The binding's handle: one per xmpp_conn_t. */
typedef struct rpsync_strophe rpsync_strophe_t;

/** Version of this API (major * 10000 + minor * 100 + patch). */
#define RPSYNC_STROPHE_VERSION 100

/** Bits of rpsync_strophe_presence_t::changed (the wire order of the fields). */
#define RPSYNC_STROPHE_FIELD_SHOW 0x01u
#define RPSYNC_STROPHE_FIELD_STATUS 0x02u
#define RPSYNC_STROPHE_FIELD_PRIORITY 0x04u
#define RPSYNC_STROPHE_FIELD_CAPS 0x08u
#define RPSYNC_STROPHE_FIELD_PHOTO 0x10u
#define RPSYNC_STROPHE_FIELD_IDLE 0x20u

typedef enum {
  RPSYNC_STROPHE_AVAILABLE,  /**< a contact resource became available */
  RPSYNC_STROPHE_CHANGED,    /**< an available resource changed fields (see `changed`) */
  RPSYNC_STROPHE_UNAVAILABLE /**< it went away (fields are at their defaults) */
} rpsync_strophe_change_kind_t;

/** One contact resource's presence (canonical fields, xep_draft "Presence Fields").
 *  Strings are never NULL; "" means absent. */
typedef struct {
  const char* jid; /**< full JID */
  rpsync_strophe_change_kind_t kind;
  unsigned changed; /**< RPSYNC_STROPHE_FIELD_* bits that differ (CHANGED only) */
  const char* show; /**< "", "chat", "away", "xa", "dnd" */
  const char* status;
  int priority;
  const char* caps_hash; /**< XEP-0115; all three "" when the resource sent no caps */
  const char* caps_node;
  const char* caps_ver;
  const char* photo;      /**< XEP-0153 photo hash */
  const char* idle_since; /**< XEP-0319 'since' */
} rpsync_strophe_presence_t;

/** Why a login got the full presence flood instead of a delta. */
typedef enum {
  RPSYNC_STROPHE_NO_STORED_STATE,      /**< nothing stored for this account */
  RPSYNC_STROPHE_STORE_ERROR,          /**< the state file was unreadable or corrupt */
  RPSYNC_STROPHE_KEY_EXPIRED,          /**< the stored key's lifetime passed (not sent) */
  RPSYNC_STROPHE_KEY_REJECTED,         /**< the component answered an error (detail) */
  RPSYNC_STROPHE_DELTA_DOES_NOT_APPLY, /**< the delta does not fit the stored snapshot */
  RPSYNC_STROPHE_DIGEST_MISMATCH,      /**< the applied delta gives another digest */
  RPSYNC_STROPHE_MALFORMED_ANSWER,
  RPSYNC_STROPHE_TIMEOUT,
  RPSYNC_STROPHE_COMPONENT_UNAVAILABLE /**< no component known for the stored key */
} rpsync_strophe_reason_t;

/** "no-stored-state", "key-rejected", ... (static string; "?" for unknown values). */
const char* rpsync_strophe_reason_string(rpsync_strophe_reason_t reason);

/** Where the handle is in the current login. */
typedef enum {
  RPSYNC_STROPHE_OFFLINE,
  RPSYNC_STROPHE_SYNCING,    /**< sync sent, initial presence held */
  RPSYNC_STROPHE_SETTLING,   /**< full login: waiting for the flood to settle */
  RPSYNC_STROPHE_ENABLING,   /**< enable sent */
  RPSYNC_STROPHE_ONLINE,     /**< the component holds a key for this session */
  RPSYNC_STROPHE_PLAIN,      /**< no component (or it failed): plain client */
  RPSYNC_STROPHE_LOGGING_OUT /**< final checkpoint sent, disconnect follows */
} rpsync_strophe_phase_t;

/** What a verified sync cost. */
typedef struct {
  size_t items; /**< children of the delta */
  size_t bytes; /**< serialised size of the answer stanza */
  uint64_t round_trip_us;
  uint32_t count; /**< contact resources after the sync */
} rpsync_strophe_sync_stats_t;

/** One roster item (RFC 6121). Strings never NULL ("" = absent). */
typedef struct {
  const char* jid;
  const char* name;
  const char* subscription; /**< "none", "to", "from", "both" */
  const char* ask;          /**< "" or "subscribe" */
  const char* const* groups;
  size_t group_count;
} rpsync_strophe_roster_item_t;

/** Callbacks; every member may be NULL. */
typedef struct {
  /** A reconnect was answered by a delta, applied and verified. `changes` are relative
   *  to the presence view the application held (the cache); the initial presence goes
   *  out right after this call. */
  void (*synced)(rpsync_strophe_t* h, const rpsync_strophe_sync_stats_t* stats,
                 const rpsync_strophe_presence_t* changes, size_t count, void* userdata);
  /** This login gets the full presence flood: discard your presence view (the cache was
   *  cleared). `detail` is never NULL. Every non-resumed login reports this or
   *  synced(); after a synced login whose marked presence failed verification, this
   *  follows synced(). */
  void (*full_resync)(rpsync_strophe_t* h, rpsync_strophe_reason_t reason, const char* detail,
                      void* userdata);
  /** A contact resource's live presence changed. */
  void (*presence)(rpsync_strophe_t* h, const rpsync_strophe_presence_t* change, void* userdata);
  /** The held initial presence left (after the sync, or at once on a full login). */
  void (*presence_sent)(rpsync_strophe_t* h, int marked, void* userdata);
  /** The component enabled this session; `digest_matched` = its view equals ours. */
  void (*enabled)(rpsync_strophe_t* h, int digest_matched, void* userdata);
  /** Discovery ended: the component's JID, "" when there is none. */
  void (*component)(rpsync_strophe_t* h, const char* jid, void* userdata);
  /** The roster is known: after a roster result (from_cache = 1 when the server
   *  answered "unchanged" and the cached roster is delivered) or a roster push
   *  (from_cache = 0). `items` is the whole current roster. */
  void (*roster)(rpsync_strophe_t* h, const rpsync_strophe_roster_item_t* items, size_t count,
                 int from_cache, void* userdata);
  /** A line for a log (dotted lower-case event name first, e.g. "sync.sent ..."). */
  void (*log)(rpsync_strophe_t* h, const char* line, void* userdata);
} rpsync_strophe_callbacks_t;

/** Options; fill with rpsync_strophe_options_init() first, then change what you need.
 *  Durations are milliseconds. */
typedef struct {
  const char* component;    /**< component JID; NULL = discover on the account's server */
  unsigned settle_quiet_ms; /**< no contact presence for this long = the flood settled */
  unsigned settle_max_ms;   /**< ... or at most this long after initial presence */
  unsigned checkpoint_quiet_ms;
  unsigned checkpoint_interval_ms;
  unsigned request_timeout_ms;
  unsigned logout_timeout_ms;
  unsigned retry_after_wait_ms; /**< after a 'wait' error on enable */
  unsigned rediscover_after_ms; /**< repeat a discovery that found nothing */
  int synced_marker;            /**< mark the initial presence after a verified sync (default 1) */
  int answer_disco;             /**< answer disco#info queries with the client's features (1) */
  int roster_ver;               /**< offer the cached roster's version in roster gets (1) */
  const char* caps_node;        /**< XEP-0115 node; when set, the held initial presence gets a
                                    <c/> whose ver covers the features (incl. rpsync) */
  int tcp_nodelay;              /**< connect_client installs rpsync_strophe_sockopt_cb (1) */
} rpsync_strophe_options_t;

/** Fills `options` with the defaults (those of the gloox extension). */
void rpsync_strophe_options_init(rpsync_strophe_options_t* options);

/** Creates the handle on `conn` (whose JID must be set: the account is its bare JID) and
 *  registers its stanza handlers. `options` and `callbacks` are copied and may be NULL
 *  (defaults / no callbacks). Returns NULL on a NULL `conn`, a conn without JID, or no
 *  memory. */
rpsync_strophe_t* rpsync_strophe_new(xmpp_conn_t* conn, const rpsync_strophe_options_t* options,
                                     const rpsync_strophe_callbacks_t* callbacks, void* userdata);

/** Removes the handlers and timers and frees the handle. No checkpoint is sent (use
 *  rpsync_strophe_logout first). NULL is ignored. Call it before releasing `conn`, and
 *  not from inside one of the handle's callbacks or a connection handler it calls. The
 *  connection may still be up: the application's handler given to
 *  rpsync_strophe_connect_client still receives the DISCONNECT (e.g. from
 *  xmpp_conn_release) without the freed handle being touched. */
void rpsync_strophe_free(rpsync_strophe_t* h);

/** Opens (or creates) the SQLite state file at `path` and loads the account's key,
 *  presence snapshot and roster. A corrupt or unreadable record is erased and the next
 *  login is a full one reporting RPSYNC_STROPHE_STORE_ERROR (still XMPP_EOK); a file
 *  that cannot be opened at all gives XMPP_EINT. Only while offline (else XMPP_EINVOP),
 *  at most once per handle. Without it, key, snapshot and versioned roster are kept in
 *  memory and live only as long as the handle; opening the file replaces (and drops)
 *  that in-memory state, so open it before the first connection. */
int rpsync_strophe_open_state(rpsync_strophe_t* h, const char* path);

/** A libstrophe socket-option callback: libstrophe's keepalive settings
 *  (xmpp_sockopt_cb_keepalive) plus TCP_NODELAY. libstrophe leaves Nagle's algorithm on,
 *  so the stanza written right after another (the held initial presence after the sync
 *  answer, a checkpoint after the server's reflection) waits for the server's delayed ACK,
 *  about 40 ms on Linux, on every reconnect. With options.tcp_nodelay (the default)
 *  rpsync_strophe_connect_client installs it with xmpp_conn_set_sockopt_callback, which
 *  replaces a callback the application set before; an application with its own callback
 *  sets tcp_nodelay = 0 and calls this one from it. Returns 0, or -1 when a setting failed
 *  (libstrophe then closes the socket). */
int rpsync_strophe_sockopt_cb(xmpp_conn_t* conn, void* sock);

/** xmpp_connect_client() with the binding in the connection's path: the binding sees
 *  the connection events first (new login or XEP-0198 resumption, disconnect), then
 *  calls `callback` with `userdata`. On XMPP_CONN_CONNECT of a new login the sync (if a
 *  usable key is stored) has already been sent. Returns xmpp_connect_client()'s result;
 *  XMPP_EINVOP when not offline. */
int rpsync_strophe_connect_client(rpsync_strophe_t* h, const char* altdomain,
                                  unsigned short altport, xmpp_conn_handler callback,
                                  void* userdata);

/** Hands over the initial presence (copied; must be an available <presence/> without
 *  'to' and 'type'). It is held while a sync is outstanding (and, when
 *  rpsync_strophe_roster_request() was called, until the roster arrived), then sent,
 *  with <synced/> after a verified sync on a server with the gate. XMPP_EINVOP when not
 *  connected, when already sent in this login, or for another stanza. */
int rpsync_strophe_send_initial_presence(rpsync_strophe_t* h, const xmpp_stanza_t* presence);

/** Sends the roster get (RFC 6121 2.6: with ver = the cached roster's version when
 *  options.roster_ver; "" when nothing is cached). The answer and later pushes update
 *  the cached roster and are reported through callbacks.roster. At most once per login,
 *  after XMPP_CONN_CONNECT (else XMPP_EINVOP). */
int rpsync_strophe_roster_request(rpsync_strophe_t* h);

/** Graceful logout: a final checkpoint (when enabled), then xmpp_disconnect() once it is
 *  answered or logout_timeout_ms passed; at once without an enabled session.
 *  XMPP_EINVOP when not connected. */
int rpsync_strophe_logout(rpsync_strophe_t* h);

/** Stops rpsync for this session (<disable/> when enabled), drops key and stored state;
 *  the next login starts over. XMPP_EINVOP when not connected. */
int rpsync_strophe_disable(rpsync_strophe_t* h);

/** State, for display and tests. NULL handle: OFFLINE / 0 / "". */
rpsync_strophe_phase_t rpsync_strophe_get_phase(const rpsync_strophe_t* h);
/** The component's JID ("" when none is known). Valid until the next library call. */
const char* rpsync_strophe_get_component(const rpsync_strophe_t* h);
/** The session identifier this login uses in <enable/> and <sync/> (see README). */
const char* rpsync_strophe_get_session_id(const rpsync_strophe_t* h);

/** Counters since creation / since the last (re)login. */
typedef struct {
  size_t enables_sent;
  size_t syncs_sent;
  size_t checkpoints_sent;
  size_t presence_stanzas; /**< contact presence received since the last login */
  size_t presence_bytes;
  int presence_marked;    /**< this login's initial presence carried <synced/> */
  int server_skips_flood; /**< the server advertised urn:xmpp:rpsync:0#synced */
  int roster_from_cache;  /**< this login's roster came from the cache */
  size_t roster_result_bytes;
  int presence_confirmed; /**< the server confirmed the marked presence: no checkpoint */
} rpsync_strophe_stats_t;
int rpsync_strophe_get_stats(const rpsync_strophe_t* h, rpsync_strophe_stats_t* stats);

/** Calls `fn` for every available contact resource of the live presence view, ordered
 *  by JID. */
int rpsync_strophe_presence_foreach(const rpsync_strophe_t* h,
                                    void (*fn)(const rpsync_strophe_presence_t* p, void* userdata),
                                    void* userdata);
/** Count and digest (64 hex digits + NUL into `hex`) of the live presence view, as the
 *  spec defines them; equal views have equal digests. */
int rpsync_strophe_presence_digest(const rpsync_strophe_t* h, char hex[65], uint32_t* count);

/** The cached roster's version ("" when none) and its items via `fn`. */
int rpsync_strophe_roster_foreach(const rpsync_strophe_t* h,
                                  void (*fn)(const rpsync_strophe_roster_item_t* item,
                                             void* userdata),
                                  void* userdata);
const char* rpsync_strophe_roster_version(const rpsync_strophe_t* h);

#ifdef __cplusplus
}
#endif

#endif /* RPSYNC_STROPHE_H */
