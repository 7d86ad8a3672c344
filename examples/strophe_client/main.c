/* SPDX-License-Identifier: MIT */
/*
 * rpsync-strophe-client: a minimal libstrophe client with librpsync-strophe, the C twin
 * of rpsync-client (examples/client).
 *
 *   rpsync-strophe-client --jid alice@example.test/laptop --password secret
 *                 [--host 127.0.0.1] [--port 5222] [--state FILE]
 *                 [--disconnect-after N [--abrupt] [--reconnect [--run-for M]]]
 *                 [--component JID] [--sm] [--tls] [--verbose] [--max-seconds S]
 *                 [--show available|chat|away|xa|dnd] [--status TEXT] [--priority N]
 *                 [--no-roster-ver]
 *
 * Prints one line per event: the sync result (or why a full resync was needed) and every
 * live presence change. With --disconnect-after it leaves after N seconds, gracefully
 * (final checkpoint, </stream:stream>) or with --abrupt by shutting the TCP socket down;
 * --reconnect then logs in again on the same connection object (with --sm libstrophe may
 * resume) and stays M seconds (default N) before a graceful logout.
 */
#include <rpsync/strophe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "options.h"

static volatile sig_atomic_t g_interrupted = 0;
static void on_signal(int sig) {
  (void)sig;
  g_interrupted = 1;
}

typedef struct {
  const client_options_t* opt;
  rpsync_strophe_t* rpsync;
  int disconnected;
  int fd; /* the connection's socket, for --abrupt */
} app_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char* kind_name(rpsync_strophe_change_kind_t k) {
  return k == RPSYNC_STROPHE_AVAILABLE ? "available"
         : k == RPSYNC_STROPHE_CHANGED ? "changed"
                                       : "unavailable";
}

static void print_change(const char* prefix, const rpsync_strophe_presence_t* c) {
  printf("%s%s %s", prefix, kind_name(c->kind), c->jid);
  if (c->kind != RPSYNC_STROPHE_UNAVAILABLE) {
    printf(" %s", c->show[0] != '\0' ? c->show : "available");
    if (c->status[0] != '\0') printf(" '%s'", c->status);
    if (c->priority != 0) printf(" prio=%d", c->priority);
  }
  printf("\n");
}

static void on_synced(rpsync_strophe_t* h, const rpsync_strophe_sync_stats_t* s,
                      const rpsync_strophe_presence_t* changes, size_t count, void* ud) {
  (void)h;
  (void)ud;
  printf("rpsync: synced items=%zu bytes=%zu rtt_us=%llu resources=%u changes=%zu\n", s->items,
         s->bytes, (unsigned long long)s->round_trip_us, (unsigned)s->count, count);
  for (size_t i = 0; i < count; ++i) print_change("  delta: ", &changes[i]);
}

static void on_full_resync(rpsync_strophe_t* h, rpsync_strophe_reason_t reason, const char* detail,
                           void* ud) {
  (void)h;
  (void)ud;
  printf("rpsync: full-resync reason=%s", rpsync_strophe_reason_string(reason));
  if (detail[0] != '\0') printf(" detail=%s", detail);
  printf("\n");
}

static void on_presence(rpsync_strophe_t* h, const rpsync_strophe_presence_t* c, void* ud) {
  (void)h;
  (void)ud;
  print_change("presence: ", c);
}

static void on_enabled(rpsync_strophe_t* h, int matched, void* ud) {
  (void)h;
  (void)ud;
  printf("rpsync: enabled digest=%s\n", matched ? "match" : "mismatch");
}

static void on_component(rpsync_strophe_t* h, const char* jid, void* ud) {
  (void)h;
  (void)ud;
  printf("rpsync: component %s\n", jid[0] != '\0' ? jid : "none");
}

static void on_roster(rpsync_strophe_t* h, const rpsync_strophe_roster_item_t* items, size_t count,
                      int from_cache, void* ud) {
  rpsync_strophe_stats_t st;
  (void)items;
  (void)ud;
  rpsync_strophe_get_stats(h, &st);
  printf("roster: from_cache=%d result_bytes=%zu items=%zu ver=%s\n", from_cache,
         st.roster_result_bytes, count, rpsync_strophe_roster_version(h));
}

static void on_presence_sent(rpsync_strophe_t* h, int marked, void* ud) {
  (void)h;
  (void)ud;
  printf("presence: sent marked=%d\n", marked);
}

static void on_log(rpsync_strophe_t* h, const char* line, void* ud) {
  (void)h;
  if (((app_t*)ud)->opt->verbose) printf("  rpsync %s\n", line);
}

static xmpp_stanza_t* initial_presence(xmpp_ctx_t* ctx, const client_options_t* o) {
  xmpp_stanza_t* p = xmpp_presence_new(ctx);
  char prio[8];
  if (strcmp(o->show, "available") != 0) add_text_child(ctx, p, "show", o->show);
  if (o->status[0] != '\0') add_text_child(ctx, p, "status", o->status);
  snprintf(prio, sizeof prio, "%d", o->priority);
  if (o->priority != 0) add_text_child(ctx, p, "priority", prio);
  return p;
}

static void on_conn(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                    xmpp_stream_error_t* stream_error, void* userdata) {
  app_t* app = userdata;
  (void)stream_error;
  if (event == XMPP_CONN_CONNECT) {
    xmpp_ctx_t* ctx = xmpp_conn_get_context(conn);
    xmpp_stanza_t* p = initial_presence(ctx, app->opt);
    printf("connected jid=%s session=%s\n", xmpp_conn_get_bound_jid(conn),
           rpsync_strophe_get_session_id(app->rpsync));
    rpsync_strophe_roster_request(app->rpsync);
    rpsync_strophe_send_initial_presence(app->rpsync, p);
    xmpp_stanza_release(p); /* the binding copied it */
  } else {
    printf("disconnected error=%d\n", error);
    app->disconnected = 1;
  }
}

/* libstrophe's socket callback has no userdata: the one app of this process. */
static app_t* g_app = NULL;
static int on_socket(xmpp_conn_t* conn, void* sock) {
  (void)conn;
  if (g_app != NULL) g_app->fd = *(int*)sock;
  return 0;
}

/* Runs the event loop until disconnected. Leaves after `leave_after` seconds (< 0: never),
 * gracefully on SIGINT or at `deadline`; gives up (returns 0) 5 s after that. */
static int run(xmpp_ctx_t* ctx, app_t* app, double leave_after, int abrupt, double deadline) {
  const double start = now_s();
  int left = 0;
  app->disconnected = 0;
  if (rpsync_strophe_connect_client(app->rpsync, app->opt->host, app->opt->port, on_conn, app) !=
      XMPP_EOK) {
    printf("connect failed\n");
    return 0;
  }
  while (!app->disconnected) {
    if (now_s() >= deadline + 5) return 0;
    if (!left && (g_interrupted || now_s() >= deadline)) {
      left = 1;
      printf("leaving: graceful (%s)\n", g_interrupted ? "interrupted" : "time limit");
      rpsync_strophe_logout(app->rpsync);
    }
    xmpp_run_once(ctx, 100);
    if (!left && leave_after >= 0 && now_s() - start >= leave_after) {
      left = 1;
      if (abrupt) {
        printf("leaving: tcp abort\n");
        shutdown(app->fd, SHUT_RDWR);
      } else {
        printf("leaving: graceful\n");
        rpsync_strophe_logout(app->rpsync);
      }
    }
  }
  return 1;
}

static rpsync_strophe_t* make_binding(xmpp_conn_t* conn, app_t* app) {
  rpsync_strophe_options_t ro;
  rpsync_strophe_callbacks_t cb = {0};
  rpsync_strophe_t* h;
  rpsync_strophe_options_init(&ro);
  ro.component = app->opt->component[0] != '\0' ? app->opt->component : NULL;
  ro.roster_ver = app->opt->roster_ver;
  /* XEP-0115: the initial presence advertises the client's features, rpsync among them. */
  ro.caps_node = "http://rpsync.example.test/strophe-client";
  cb.synced = on_synced;
  cb.full_resync = on_full_resync;
  cb.presence = on_presence;
  cb.presence_sent = on_presence_sent;
  cb.enabled = on_enabled;
  cb.component = on_component;
  cb.roster = on_roster;
  cb.log = on_log;
  h = rpsync_strophe_new(conn, &ro, &cb, app);
  if (h != NULL && app->opt->state[0] != '\0' &&
      rpsync_strophe_open_state(h, app->opt->state) != XMPP_EOK) {
    printf("state: cannot open %s (continuing without)\n", app->opt->state);
  }
  return h;
}

static xmpp_conn_t* make_conn(xmpp_ctx_t* ctx, const client_options_t* o) {
  xmpp_conn_t* conn = xmpp_conn_new(ctx);
  long flags = 0;
  char jid[1100];
  /* Plain TCP by default (loopback test servers); --tls uses STARTTLS when offered,
   * without checking the certificate: an example only. */
  if (!o->tls) flags |= XMPP_CONN_FLAG_DISABLE_TLS;
  if (o->tls) flags |= XMPP_CONN_FLAG_TRUST_TLS;
  if (!o->sm) flags |= XMPP_CONN_FLAG_DISABLE_SM;
  xmpp_conn_set_flags(conn, flags);
  snprintf(jid, sizeof jid, "%s%s", o->jid, strchr(o->jid, '/') ? "" : "/rpsync-strophe-client");
  xmpp_conn_set_jid(conn, jid);
  xmpp_conn_set_pass(conn, o->password);
  xmpp_conn_set_sockopt_callback(conn, on_socket);
  return conn;
}

static void print_bye(const rpsync_strophe_t* h) {
  rpsync_strophe_stats_t st;
  rpsync_strophe_get_stats(h, &st);
  printf(
      "bye presence_stanzas=%zu presence_bytes=%zu syncs=%zu enables=%zu checkpoints=%zu"
      " server_skips_flood=%d last_presence_marked=%d\n",
      st.presence_stanzas, st.presence_bytes, st.syncs_sent, st.enables_sent, st.checkpoints_sent,
      st.server_skips_flood, st.presence_marked);
}

int main(int argc, char** argv) {
  client_options_t opt;
  app_t app = {0};
  xmpp_ctx_t* ctx;
  xmpp_conn_t* conn;
  double deadline;
  int ok;
  if (!parse_args(argc, argv, &opt)) return usage(), 2;
  setvbuf(stdout, NULL, _IONBF, 0);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  xmpp_initialize();
  ctx = xmpp_ctx_new(NULL, opt.verbose ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG) : NULL);
  conn = make_conn(ctx, &opt);
  app.opt = &opt;
  app.fd = -1;
  g_app = &app;
  app.rpsync = make_binding(conn, &app);
  deadline = now_s() + opt.max_seconds;
  ok = app.rpsync != NULL && run(ctx, &app, opt.disconnect_after, opt.abrupt, deadline);
  if (ok && opt.reconnect) {
    printf("reconnecting\n");
    ok = run(ctx, &app,
             opt.run_for >= 0            ? opt.run_for
             : opt.disconnect_after >= 0 ? opt.disconnect_after
                                         : 5.0,
             0, deadline);
  }
  if (ok)
    print_bye(app.rpsync);
  else
    printf("gave up\n");
  rpsync_strophe_free(app.rpsync);
  xmpp_conn_release(conn);
  xmpp_ctx_free(ctx);
  xmpp_shutdown();
  return ok ? 0 : 1;
}
