// SPDX-License-Identifier: MIT
// Reading the error of an rpsync request's answer (RpsyncManager's parts; not installed).
#pragma once

#include <gloox/iq.h>

#include <string>

#include "client_ext/sync_plan.h"  // component_missing, describe
#include "protocol/error.h"

namespace rpsync::client {

// The stanza error of an error answer (undefined-condition when it cannot be parsed).
proto::StanzaError error_of(const gloox::IQ& iq);

}  // namespace rpsync::client
