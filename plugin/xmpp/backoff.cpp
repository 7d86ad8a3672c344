// SPDX-License-Identifier: MIT
#include "plugin/xmpp/backoff.h"

#include <algorithm>

namespace rpsync::xmpp {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
                 std::function<double()> uniform01)
    : min_(std::max(min, std::chrono::milliseconds(1))),
      max_(std::max(max, min_)),
      uniform01_(std::move(uniform01)) {}

std::chrono::milliseconds Backoff::next() {
  // Double without overflow: stop doubling once the cap is reached.
  auto base = min_;
  for (int i = 0; i < attempt_ && base < max_; ++i) base *= 2;
  base = std::min(base, max_);
  if (attempt_ < 64) ++attempt_;
  double r = std::clamp(uniform01_ ? uniform01_() : 0.0, 0.0, 1.0);
  auto half = base / 2;
  auto jitter = std::chrono::milliseconds(
      static_cast<long long>(static_cast<double>((base - half).count()) * r));
  return half + jitter;
}

}  // namespace rpsync::xmpp
