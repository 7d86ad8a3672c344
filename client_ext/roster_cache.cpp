// SPDX-License-Identifier: MIT
#include "client_ext/roster_cache.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdint>

namespace rpsync::client {

RosterCache::~RosterCache() = default;

void canonicalise(std::vector<CachedRosterItem>& items) {
  // Stable, so that of two items with the same jid the later one (the newer) survives.
  std::stable_sort(
      items.begin(), items.end(),
      [](const CachedRosterItem& a, const CachedRosterItem& b) { return a.jid < b.jid; });
  std::vector<CachedRosterItem> out;
  out.reserve(items.size());
  for (auto& item : items) {
    if (!out.empty() && out.back().jid == item.jid) {
      out.back() = std::move(item);
    } else {
      out.push_back(std::move(item));
    }
  }
  items = std::move(out);
}

void apply_push(CachedRoster& roster, const CachedRosterItem& item) {
  auto& items = roster.items;
  auto it = std::lower_bound(
      items.begin(), items.end(), item.jid,
      [](const CachedRosterItem& a, const std::string& jid) { return a.jid < jid; });
  const bool found = it != items.end() && it->jid == item.jid;
  if (item.subscription == "remove") {
    if (found) items.erase(it);
  } else if (found) {
    *it = item;
  } else {
    items.insert(it, item);
  }
}

namespace {

void put(std::string& out, std::string_view field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xffU);
  out += field;
}

}  // namespace

std::string roster_checksum(const CachedRoster& roster) {
  std::string enc;
  put(enc, roster.ver);
  put(enc, std::to_string(roster.items.size()));
  for (const auto& item : roster.items) {
    put(enc, item.jid);
    put(enc, item.name);
    put(enc, item.subscription);
    put(enc, item.ask);
    put(enc, std::to_string(item.groups.size()));
    for (const auto& g : item.groups) put(enc, g);
  }
  unsigned char md[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(enc.data()), enc.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * SHA_DIGEST_LENGTH);
  for (unsigned char b : md) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0x0f]);
  }
  return hex;
}

RosterLoadResult MemoryRosterCache::load(std::string_view account) {
  auto it = rosters_.find(account);
  if (it == rosters_.end()) return std::optional<CachedRoster>{};
  return std::optional<CachedRoster>{it->second};
}

Status MemoryRosterCache::save(std::string_view account, const CachedRoster& roster) {
  rosters_.insert_or_assign(std::string(account), roster);
  ++saves_;
  return {};
}

Status MemoryRosterCache::erase(std::string_view account) {
  if (auto it = rosters_.find(account); it != rosters_.end()) rosters_.erase(it);
  return {};
}

}  // namespace rpsync::client
