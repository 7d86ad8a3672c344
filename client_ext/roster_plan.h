// SPDX-License-Identifier: MIT
// What a roster get asks for (RFC 6121 2.6), shared by both client bindings: plain,
// bootstrap (ver='') or versioned, from what the roster cache holds. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "roster_cache.h"

namespace rpsync::client {

inline constexpr std::string_view kRosterVerFeatureNs = "urn:xmpp:features:rosterver";

enum class RosterRequestKind : std::uint8_t {
  kPlain,      // <query/> without ver: no cache, or the server did not advertise versioning
  kBootstrap,  // ver='': versioning wanted but no usable cached roster (RFC 6121 §2.6.3)
  kVersioned,  // ver='<cached version>'
};
std::string_view to_string(RosterRequestKind kind);

struct RosterRequest {
  RosterRequestKind kind = RosterRequestKind::kPlain;
  std::string ver;  // the attribute value for kBootstrap ('') and kVersioned
};

// The decision, as a pure function. `have_cache`: a RosterCache is set; `server_rosterver`:
// the stream features after authentication carried <ver xmlns='urn:xmpp:features:rosterver'/>
// (RFC 6121 §2.6.2: the client only includes ver when the server advertises it);
// `loaded`: what the cache returned (ignored unless both are true).
RosterRequest plan_roster_request(bool have_cache, bool server_rosterver,
                                  const RosterLoadResult& loaded);

}  // namespace rpsync::client
