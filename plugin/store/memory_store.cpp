// SPDX-License-Identifier: MIT
#include "plugin/store/memory_store.h"

#include <type_traits>
#include <utility>

namespace rpsync::store {

MemoryStore::MemoryStore(std::shared_ptr<MemoryData> data) : data_(std::move(data)) {}

StatusOr<core::Image> MemoryStore::load() {
  core::Image img;
  img.epoch = data_->epoch;
  for (const auto& [jid, r] : data_->resources) img.resources.push_back(r);
  for (const auto& [jid, t] : data_->tombstones) img.tombstones.push_back(t);
  for (const auto& [user, contacts] : data_->rosters) img.rosters.push_back({user, contacts});
  for (const auto& [key, s] : data_->sessions) img.sessions.push_back(s);
  return img;
}

Done MemoryStore::write(const core::Batch& batch) {
  pending_.insert(pending_.end(), batch.begin(), batch.end());
  return Status{};
}

Done MemoryStore::flush() {
  MemoryData& d = *data_;
  for (const auto& m : pending_) {
    std::visit(
        [&d](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<T, core::PutResource>) {
            d.tombstones.erase(x.jid);
            d.resources[x.jid] = core::ResourceRecord{x.jid, x.fields, x.versions};
          } else if constexpr (std::is_same_v<T, core::EraseResource>) {
            d.resources.erase(x.jid);
            if (x.tombstone)
              d.tombstones[x.jid] = core::TombstoneRecord{x.jid, *x.tombstone};
            else
              d.tombstones.erase(x.jid);
          } else if constexpr (std::is_same_v<T, core::PutRoster>) {
            if (x.contacts.empty())
              d.rosters.erase(x.user);
            else
              d.rosters[x.user] = x.contacts;
          } else if constexpr (std::is_same_v<T, core::PutSession>) {
            d.sessions[{x.session.user, x.session.stream, x.session.resource}] = x.session;
          } else if constexpr (std::is_same_v<T, core::EraseSession>) {
            d.sessions.erase({x.user, x.stream, x.resource});
          } else {
            d.epoch = x.epoch;
          }
        },
        m);
  }
  pending_.clear();
  return Status{};
}

}  // namespace rpsync::store
