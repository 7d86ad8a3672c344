// SPDX-License-Identifier: MIT
// The gloox half of reading a <sync/> answer (the decisions are in sync_plan.h, shared
// with the libstrophe binding). Not installed.
#pragma once

#include <gloox/iq.h>

#include <cstddef>

#include "client_ext/sync_plan.h"

namespace rpsync::client {

// `answer_bytes`: the answer stanza's serialised size (SyncStats::round_trip is the
// caller's to fill in).
SyncAnswer read_sync_answer(const gloox::IQ& iq, PresenceCache& cache, std::size_t answer_bytes);

}  // namespace rpsync::client
