// SPDX-License-Identifier: MIT
#include "plugin/core/unknown.h"

namespace rpsync::core {

std::pair<std::string_view, std::string_view> split_jid(std::string_view jid) {
  auto slash = jid.find('/');
  if (slash == std::string_view::npos) return {jid, {}};
  return {jid.substr(0, slash), jid.substr(slash + 1)};
}

void UnknownPresence::open(std::string_view jid, std::uint64_t version) {
  auto [bare, resource] = split_jid(jid);
  auto it = contacts_.find(bare);
  if (it == contacts_.end()) it = contacts_.emplace(std::string(bare), Entry{version, {}}).first;
  it->second.resources.emplace(resource);
}

std::optional<std::uint64_t> UnknownPresence::close(std::string_view jid) {
  if (contacts_.empty()) return std::nullopt;
  auto [bare, resource] = split_jid(jid);
  auto it = contacts_.find(bare);
  if (it == contacts_.end()) return std::nullopt;
  auto& resources = it->second.resources;
  if (jid.find('/') == std::string_view::npos) {
    resources.clear();
  } else if (auto r = resources.find(resource); r != resources.end()) {
    resources.erase(r);
  } else {
    return std::nullopt;
  }
  if (!resources.empty()) return std::nullopt;
  const std::uint64_t since = it->second.since;
  contacts_.erase(it);
  return since;
}

void UnknownPresence::for_each(const std::function<void(std::string_view bare)>& f) const {
  for (const auto& [bare, entry] : contacts_) f(bare);
}

}  // namespace rpsync::core
