/* SPDX-License-Identifier: MIT */
/* Command line of rpsync-strophe-client (the flags of rpsync-client that apply). */
#ifndef RPSYNC_STROPHE_CLIENT_OPTIONS_H
#define RPSYNC_STROPHE_CLIENT_OPTIONS_H

#include <strophe.h>

typedef struct {
  const char* jid;
  const char* password;
  const char* host; /* NULL: from the JID's domain */
  unsigned short port;
  const char* state;
  const char* component;
  double disconnect_after; /* < 0: stay until the time limit */
  int abrupt;
  int reconnect;
  double run_for; /* < 0: as disconnect_after */
  int sm;
  int tls;
  int verbose;
  int roster_ver;
  double max_seconds;
  const char* show;
  const char* status;
  int priority;
} client_options_t;

/* 1 when the arguments are usable, else 0 (a message went to stderr). */
int parse_args(int argc, char** argv, client_options_t* o);
void usage(void);
/* Adds <name>text</name> to `parent`. */
void add_text_child(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const char* name, const char* text);

#endif
