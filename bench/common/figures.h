// SPDX-License-Identifier: MIT
// Order statistics of the bench programs' samples.
#pragma once

#include <vector>

namespace rpsync::bench {

// The sample at rank round(p * (n - 1)) of the sorted samples (p in 0..1); 0 when empty.
double percentile(std::vector<double> xs, double p);
// The upper median (xs[n / 2] of the sorted samples); 0 when empty.
double median(std::vector<double> xs);

// median() of f(x) over v.
template <class T, class F>
double median_of(const std::vector<T>& v, F f) {
  std::vector<double> xs;
  xs.reserve(v.size());
  for (const auto& x : v) xs.push_back(f(x));
  return median(std::move(xs));
}

}  // namespace rpsync::bench
