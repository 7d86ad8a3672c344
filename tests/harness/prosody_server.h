// SPDX-License-Identifier: MIT
// Old include path of the Prosody harness, still written by tests outside tests/harness
// (some of them in targets that do not link the harness, so it stays in the source tree).
// New code includes tests/harness/prosody/prosody_server.h.
#pragma once

#include "tests/harness/prosody/prosody_server.h"
