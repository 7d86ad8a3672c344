// SPDX-License-Identifier: MIT
// Reading the error of an rpsync request's answer (RpsyncManager's parts; not installed).
#pragma once

#include <gloox/iq.h>

#include <string>

#include "protocol/error.h"

namespace rpsync::client {

// The stanza error of an error answer (undefined-condition when it cannot be parsed).
proto::StanzaError error_of(const gloox::IQ& iq);
// Errors that say the component itself is not there (as opposed to rpsync answers).
bool component_missing(const proto::StanzaError& e);
// "condition/app-condition (text)" for FullResync::detail.
std::string describe(const proto::StanzaError& e);

}  // namespace rpsync::client
