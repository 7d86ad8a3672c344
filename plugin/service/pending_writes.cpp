// SPDX-License-Identifier: MIT
#include "plugin/service/pending_writes.h"

#include <type_traits>
#include <variant>

namespace rpsync::service {
namespace {

// The store row a mutation writes (store.h: "later ones override earlier ones").
std::string row_of(const core::Mutation& m) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, core::PutResource> ||
                      std::is_same_v<T, core::EraseResource>) {
          return "r" + x.jid;  // not kept (add()), named for completeness
        } else if constexpr (std::is_same_v<T, core::PutRoster>) {
          return "o" + x.user;
        } else if constexpr (std::is_same_v<T, core::PutSession>) {
          return "s" + x.session.user + '\0' + x.session.stream + '\0' + x.session.resource;
        } else if constexpr (std::is_same_v<T, core::EraseSession>) {
          return "s" + x.user + '\0' + x.stream + '\0' + x.resource;
        } else {
          return "e";
        }
      },
      m);
}

}  // namespace

void PendingWrites::add(const core::Batch& batch) {
  for (const auto& m : batch) {
    if (std::holds_alternative<core::PutResource>(m) ||
        std::holds_alternative<core::EraseResource>(m))
      continue;
    auto [it, fresh] = index_.try_emplace(row_of(m), items_.size());
    if (!fresh) {
      items_[it->second].reset();
      it->second = items_.size();
    } else {
      ++live_;
    }
    items_.emplace_back(m);
  }
  if (items_.size() > 2 * live_ + 64) {  // drop the holes
    std::vector<std::optional<core::Mutation>> kept;
    kept.reserve(live_);
    index_.clear();
    for (auto& m : items_) {
      if (!m) continue;
      index_[row_of(*m)] = kept.size();
      kept.push_back(std::move(m));
    }
    items_ = std::move(kept);
  }
}

core::Batch PendingWrites::all() const {
  core::Batch out;
  out.reserve(live_);
  for (const auto& m : items_)
    if (m) out.push_back(*m);
  return out;
}

void PendingWrites::clear() {
  items_.clear();
  index_.clear();
  live_ = 0;
}

}  // namespace rpsync::service
