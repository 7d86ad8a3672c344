// SPDX-License-Identifier: MIT
#include "protocol/marker.h"

#include "protocol/ns.h"

namespace rpsync::proto {

xml::Element synced_marker() {
  return xml::Element(std::string(kSyncedName), std::string(ns::kRpsync));
}

bool has_synced_marker(const xml::Element& presence) {
  return presence.child(kSyncedName, ns::kRpsync) != nullptr;
}

}  // namespace rpsync::proto
