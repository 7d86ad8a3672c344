/* SPDX-License-Identifier: MIT */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void usage(void) {
  fprintf(stderr,
          "usage: rpsync-strophe-client --jid JID --password PW [--host H] [--port P]\n"
          "         [--state FILE] [--disconnect-after N [--abrupt] [--reconnect [--run-for M]]]\n"
          "         [--component JID] [--sm] [--tls] [--verbose] [--max-seconds S]\n"
          "         [--show available|chat|away|xa|dnd] [--status TEXT] [--priority N]\n"
          "         [--no-roster-ver]\n");
}

static void defaults(client_options_t* o) {
  memset(o, 0, sizeof *o);
  o->jid = o->password = o->state = o->component = o->status = "";
  o->show = "available";
  o->disconnect_after = -1;
  o->run_for = -1;
  o->roster_ver = 1;
  o->max_seconds = 600;
}

static int flag(client_options_t* o, const char* a) {
  if (strcmp(a, "--abrupt") == 0)
    o->abrupt = 1;
  else if (strcmp(a, "--reconnect") == 0)
    o->reconnect = 1;
  else if (strcmp(a, "--tls") == 0)
    o->tls = 1;
  else if (strcmp(a, "--sm") == 0)
    o->sm = 1;
  else if (strcmp(a, "--verbose") == 0)
    o->verbose = 1;
  else if (strcmp(a, "--no-roster-ver") == 0)
    o->roster_ver = 0;
  else
    return 0;
  return 1;
}

static int valid_show(const char* v) {
  static const char* const shows[] = {"available", "chat", "away", "xa", "dnd"};
  for (size_t i = 0; i < sizeof shows / sizeof shows[0]; ++i)
    if (strcmp(v, shows[i]) == 0) return 1;
  fprintf(stderr, "--show takes available, chat, away, xa or dnd\n");
  return 0;
}

static int value(client_options_t* o, const char* a, const char* v) {
  if (strcmp(a, "--jid") == 0)
    o->jid = v;
  else if (strcmp(a, "--password") == 0)
    o->password = v;
  else if (strcmp(a, "--host") == 0)
    o->host = v;
  else if (strcmp(a, "--port") == 0)
    o->port = (unsigned short)atoi(v);
  else if (strcmp(a, "--state") == 0)
    o->state = v;
  else if (strcmp(a, "--component") == 0)
    o->component = v;
  else if (strcmp(a, "--disconnect-after") == 0)
    o->disconnect_after = atof(v);
  else if (strcmp(a, "--run-for") == 0)
    o->run_for = atof(v);
  else if (strcmp(a, "--max-seconds") == 0)
    o->max_seconds = atof(v);
  else if (strcmp(a, "--show") == 0)
    return valid_show(v) ? (o->show = v, 1) : 0;
  else if (strcmp(a, "--status") == 0)
    o->status = v;
  else if (strcmp(a, "--priority") == 0)
    o->priority = atoi(v);
  else {
    fprintf(stderr, "unknown option %s\n", a);
    return 0;
  }
  return 1;
}

int parse_args(int argc, char** argv, client_options_t* o) {
  defaults(o);
  for (int i = 1; i < argc; ++i) {
    if (flag(o, argv[i])) continue;
    if (i + 1 >= argc) {
      fprintf(stderr, "missing value for %s\n", argv[i]);
      return 0;
    }
    if (!value(o, argv[i], argv[i + 1])) return 0;
    ++i;
  }
  return o->jid[0] != '\0' && o->password[0] != '\0';
}

void add_text_child(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const char* name, const char* text) {
  xmpp_stanza_t* child = xmpp_stanza_new(ctx);
  xmpp_stanza_t* t = xmpp_stanza_new(ctx);
  xmpp_stanza_set_name(child, name);
  xmpp_stanza_set_text(t, text);
  xmpp_stanza_add_child(child, t);
  xmpp_stanza_release(t);
  xmpp_stanza_add_child(parent, child);
  xmpp_stanza_release(child);
}
