// SPDX-License-Identifier: MIT
#include "plugin/core/gap_coverage.h"

namespace rpsync::core {

std::string_view domain_of_jid(std::string_view bare) {
  bare = bare.substr(0, bare.find('/'));
  const auto at = bare.find('@');
  return at == std::string_view::npos ? bare : bare.substr(at + 1);
}

void GapCoverage::close(const Domains& covered) {
  ++gaps_;
  for (auto& [domain, last] : last_uncovered_)
    if (!covered.contains(domain)) last = gaps_;
  // A domain covered for the first time was uncovered at every earlier gap.
  for (const auto& domain : covered) last_uncovered_.try_emplace(domain, gaps_ - 1);
}

bool GapCoverage::covered_since(std::string_view bare, std::uint64_t since) const {
  if (gaps_ <= since) return true;
  const auto it = last_uncovered_.find(domain_of_jid(bare));
  const std::uint64_t last = it == last_uncovered_.end() ? gaps_ : it->second;
  return last <= since;
}

}  // namespace rpsync::core
