// SPDX-License-Identifier: MIT
// The extern "C" entry points of librpsync-strophe (placeholder until the session lands).
#include "rpsync/strophe.h"

#define RPSYNC_STROPHE_API extern "C" __attribute__((visibility("default")))

RPSYNC_STROPHE_API const char* rpsync_strophe_reason_string(rpsync_strophe_reason_t) {
  return "?";
}
