/* SPDX-License-Identifier: MIT */
/* Compiled as C11 (not C++): the public header works for C programs. */
#include <rpsync/strophe.h>

#if !defined(__STDC_VERSION__) || __STDC_VERSION__ < 201112L
#error "this file must be compiled as C11"
#endif

/* Called from c_api_test.cpp: uses the header's types and constants from C. */
int rpsync_strophe_c_header_check(void) {
  rpsync_strophe_options_t o;
  rpsync_strophe_callbacks_t cb = {0};
  rpsync_strophe_stats_t st;
  rpsync_strophe_options_init(&o);
  if (cb.synced != NULL || o.synced_marker != 1 || o.settle_quiet_ms != 1500) return 1;
  if (rpsync_strophe_get_stats(NULL, &st) != XMPP_EINVOP) return 2;
  if (RPSYNC_STROPHE_FIELD_IDLE != 0x20u) return 3;
  return 0;
}
