// SPDX-License-Identifier: MIT
// Synthetic workload shared by the engine and store benchmarks: contact resources with
// realistic fields (a handful of client caps, short statuses), full JIDs ~35 bytes.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "protocol/presence.h"

namespace rpsync::bench {

inline std::string contact_jid(std::size_t c) {
  return "contact" + std::to_string(c) + "@remote.example.org";
}
inline std::string resource_jid(std::size_t c, std::size_t r) {
  return contact_jid(c) + "/device" + std::to_string(r);
}

// Variant `v` of a resource's fields; consecutive variants differ in show and status.
inline proto::PresenceFields fields_variant(std::size_t seed, std::size_t v) {
  static const char* kNodes[] = {"https://gajim.org", "https://conversations.im",
                                 "http://psi-im.org", "https://dino.im", "http://pidgin.im/"};
  proto::PresenceFields f;
  f.show = static_cast<proto::Show>(v % 3 == 0 ? 0 : 1 + v % 4);
  f.status = v % 2 ? "Available on mobile" : "In a meeting";
  f.priority = static_cast<std::int8_t>(seed % 10);
  f.caps = proto::Caps{"sha-1", kNodes[seed % 5], "q07IKJEyjvHSyhy//CH0CxmKi8w="};
  if (seed % 4 == 0) f.photo = "01b87fcd030b72895ff8e88db57ec525450f000d";
  return f;
}

// `n` resources: n/2 contacts with two devices each.
struct Population {
  std::vector<std::string> jids;
  std::vector<proto::PresenceFields> a, b;  // two alternating field sets per resource
  explicit Population(std::size_t n) {
    jids.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      jids.push_back(resource_jid(i / 2, i % 2));
      a.push_back(fields_variant(i, 0));
      b.push_back(fields_variant(i, 1));
    }
  }
  std::size_t contacts() const { return (jids.size() + 1) / 2; }
};

}  // namespace rpsync::bench
