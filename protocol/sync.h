// SPDX-License-Identifier: MIT
// sync and its key (spec: "Synchronising on Reconnect").
#pragma once

#include <string>

#include "error.h"
#include "limits.h"
#include "xml.h"

namespace rpsync::proto {

// (stream id, resource, id of the last completed transaction) of an earlier session.
struct SyncKey {
  std::string stream;
  std::string resource;
  std::string last;
  friend bool operator==(const SyncKey&, const SyncKey&) = default;
};

struct Sync {
  std::string stream;  // the new session's stream id
  SyncKey key;         // the old session's key
  friend bool operator==(const Sync&, const Sync&) = default;
};

xml::Element to_xml(const Sync& s);
Result<Sync> parse_sync(const xml::Element& e, const Limits& limits = kDefaultLimits);

}  // namespace rpsync::proto
