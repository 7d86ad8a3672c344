// SPDX-License-Identifier: MIT
#include "client_strophe/roster_helper.h"

#include <utility>
#include <vector>

#include "client_strophe/iq_router.h"
#include "protocol/ns.h"
#include "protocol/state.h"

namespace rpsync::strophe {
namespace {

std::optional<client::CachedRosterItem> item_from(const xml::Element& e) {
  client::CachedRosterItem item;
  item.jid = std::string(e.attr("jid").value_or(""));
  if (item.jid.empty()) return std::nullopt;
  item.name = std::string(e.attr("name").value_or(""));
  item.subscription = std::string(e.attr("subscription").value_or("none"));
  item.ask = std::string(e.attr("ask").value_or(""));
  for (const auto& g : e.children()) {
    if (g.name() == "group") item.groups.push_back(g.text());
  }
  return item;
}

std::vector<client::CachedRosterItem> items_of(const xml::Element& query) {
  std::vector<client::CachedRosterItem> items;
  for (const auto& c : query.children()) {
    if (c.name() != "item") continue;
    if (auto item = item_from(c)) items.push_back(std::move(*item));
  }
  client::canonicalise(items);
  return items;
}

}  // namespace

bool is_roster_push(const xml::Element& iq) {
  return iq.name() == "iq" && iq.attr("type") == std::optional<std::string_view>("set") &&
         iq.child("query", ns::kRoster) != nullptr;
}

void RosterHelper::set_cache(client::RosterCache* cache, std::string account) {
  cache_ = cache;
  account_ = std::move(account);
}

xml::Element RosterHelper::begin(bool versioning) {
  stats_ = {};
  known_ = false;
  loaded_.reset();
  client::RosterLoadResult loaded = std::optional<client::CachedRoster>{};
  if (cache_ != nullptr && versioning) {
    loaded = cache_->load(account_);
    // A record that failed its check is never offered; the bootstrap rewrites it.
    if (loaded.status().code() == StatusCode::kCorrupt) erase();
  }
  const client::RosterRequest plan =
      client::plan_roster_request(cache_ != nullptr, versioning, loaded);
  if (plan.kind == client::RosterRequestKind::kVersioned) loaded_ = std::move(**loaded);
  pending_kind_ = plan.kind;
  stats_.last_request = plan.kind;
  xml::Element query("query", std::string(ns::kRoster));
  if (plan.kind != client::RosterRequestKind::kPlain) query.set_attr("ver", plan.ver);
  return query;
}

bool RosterHelper::on_result(const xml::Element& iq, std::size_t bytes) {
  stats_.result_bytes = bytes;
  if (!is_result(iq)) return false;
  known_ = true;
  const xml::Element* query = iq.child("query", ns::kRoster);
  if (query == nullptr) {
    // "Unchanged" (RFC 6121 2.6.3): the cached roster is the roster.
    roster_ = loaded_ ? std::move(*loaded_) : client::CachedRoster{};
    versioned_ = loaded_.has_value();
    stats_.from_cache = loaded_.has_value();
    loaded_.reset();
    return true;
  }
  loaded_.reset();
  const auto ver = query->attr("ver");
  roster_ = {std::string(ver.value_or("")), items_of(*query)};
  versioned_ = pending_kind_ != client::RosterRequestKind::kPlain && ver.has_value();
  if (versioned_) {
    save();
  } else if (pending_kind_ != client::RosterRequestKind::kPlain) {
    erase();  // the server answered without versioning after all: nothing to cache
  }
  return true;
}

bool RosterHelper::on_push(const xml::Element& iq) {
  const auto from = iq.attr("from");
  if (from && !from->empty() && proto::bare_of(*from) != account_) return false;
  const xml::Element* query = iq.child("query", ns::kRoster);
  if (query == nullptr || !known_) return false;
  ++stats_.pushes;
  for (const auto& c : query->children()) {
    if (c.name() != "item") continue;
    if (auto item = item_from(c)) client::apply_push(roster_, *item);
  }
  roster_.ver = std::string(query->attr("ver").value_or(""));
  if (versioned_) save();
  return true;
}

void RosterHelper::save() {
  if (cache_ != nullptr) (void)cache_->save(account_, roster_);  // a failed save: bootstrap later
}

void RosterHelper::erase() {
  if (cache_ != nullptr) (void)cache_->erase(account_);
}

}  // namespace rpsync::strophe
