// SPDX-License-Identifier: MIT
// The identifier a libstrophe session uses in <enable/> and <sync/> ('stream'): libstrophe
// 0.12 keeps the server's stream id private, so each login draws 128 random bits instead
// (spec: "Stream Identifier"; README.md of this folder says why).
#pragma once

#include <string>

namespace rpsync::strophe {

// 32 lowercase hex digits from the operating system's CSPRNG (OpenSSL RAND_bytes).
// Empty when no random bytes could be had (the caller then stays a plain client).
std::string random_session_id();

}  // namespace rpsync::strophe
