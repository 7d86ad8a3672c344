// SPDX-License-Identifier: MIT
// Size limits every parser enforces (spec: "Business Rules / Limits").
#pragma once

#include <cstddef>

namespace rpsync::proto {

struct Limits {
  std::size_t max_stream_id = 256;
  std::size_t max_stanza_id = 256;
  std::size_t max_resource = 1023;
  std::size_t max_jid = 3071;
  std::size_t max_status = 1024;
  std::size_t max_field = 1024;  // caps node/ver/hash, photo, idle
  std::size_t max_delta_items = 10000;
};

inline constexpr Limits kDefaultLimits{};

}  // namespace rpsync::proto
