// SPDX-License-Identifier: MIT
#include "client_ext/roster_versioning.h"

#include <gloox/gloox.h>
#include <gloox/jid.h>

#include <utility>

namespace rpsync::client {
namespace {

std::optional<CachedRosterItem> item_from_tag(const gloox::Tag& t) {
  CachedRosterItem item;
  item.jid = t.findAttribute("jid");
  if (item.jid.empty()) return std::nullopt;
  item.name = t.findAttribute("name");
  item.subscription = t.findAttribute("subscription");
  if (item.subscription.empty()) item.subscription = "none";  // RFC 6121 §2.1.2.5 default
  item.ask = t.findAttribute("ask");
  for (const gloox::Tag* g : t.findChildren("group")) item.groups.push_back(g->cdata());
  return item;
}

}  // namespace

const gloox::Tag* roster_query(const gloox::Tag& iq) {
  return iq.findChild("query", "xmlns", gloox::XMLNS_ROSTER);
}

std::vector<CachedRosterItem> items_from_query(const gloox::Tag& query) {
  std::vector<CachedRosterItem> items;
  for (const gloox::Tag* t : query.findChildren("item")) {
    if (auto item = item_from_tag(*t)) items.push_back(std::move(*item));
  }
  canonicalise(items);
  return items;
}

gloox::Tag* query_from_cache(const CachedRoster& roster) {
  auto* query = new gloox::Tag("query");
  query->setXmlns(gloox::XMLNS_ROSTER);
  query->addAttribute("ver", roster.ver);
  for (const auto& item : roster.items) {
    auto* t = new gloox::Tag(query, "item");
    t->addAttribute("jid", item.jid);
    if (!item.name.empty()) t->addAttribute("name", item.name);
    t->addAttribute("subscription", item.subscription);
    if (!item.ask.empty()) t->addAttribute("ask", item.ask);
    for (const auto& g : item.groups) new gloox::Tag(t, "group", g);
  }
  return query;
}

void RosterVersioning::set_cache(RosterCache* cache) {
  cache_ = cache;
  live_ = false;
}

RosterRequest RosterVersioning::begin(std::string account, bool server_rosterver) {
  account_ = std::move(account);
  stats_ = {};
  live_ = false;
  loaded_.reset();
  pending_id_.clear();
  RosterLoadResult loaded = std::optional<CachedRoster>{};
  if (cache_ != nullptr && server_rosterver) {
    loaded = cache_->load(account_);
    stats_.load_status = loaded.status();
    // A record that failed its check must not be offered again; the full roster that the
    // bootstrap get brings back rewrites it.
    if (loaded.status().code() == StatusCode::kCorrupt) erase();
  }
  RosterRequest plan = plan_roster_request(cache_ != nullptr, server_rosterver, loaded);
  if (plan.kind == RosterRequestKind::kVersioned) loaded_ = std::move(*loaded);
  pending_kind_ = plan.kind;
  stats_.last_request = plan.kind;
  return plan;
}

std::unique_ptr<gloox::Tag> RosterVersioning::incoming(const gloox::Tag& tag) {
  if (tag.name() != "iq") return nullptr;
  const std::string& type = tag.findAttribute("type");
  if (!pending_id_.empty() && tag.findAttribute("id") == pending_id_ &&
      (type == "result" || type == "error")) {
    pending_id_.clear();
    stats_.result_bytes = tag.xml().size();
    if (type == "error" || pending_kind_ == RosterRequestKind::kPlain) return nullptr;
    const gloox::Tag* query = roster_query(tag);
    if (query == nullptr) {
      if (!loaded_) return nullptr;  // empty answer to a bootstrap get: nothing to reuse
      roster_ = std::move(*loaded_);
      loaded_.reset();
      live_ = true;
      stats_.from_cache = true;
      std::unique_ptr<gloox::Tag> full(tag.clone());
      full->addChild(query_from_cache(roster_));
      return full;
    }
    loaded_.reset();
    if (!query->hasAttribute("ver")) {
      // The server answered without versioning after all: nothing to cache.
      erase();
      return nullptr;
    }
    roster_ = {query->findAttribute("ver"), items_from_query(*query)};
    live_ = true;
    save();
    return nullptr;
  }
  if (type != "set") return nullptr;
  const gloox::Tag* query = roster_query(tag);
  if (query == nullptr) return nullptr;
  // RFC 6121 §2.1.6: only a push without 'from' or from the account itself is genuine.
  const std::string& from = tag.findAttribute("from");
  if (!from.empty() && gloox::JID(from).bare() != account_) return nullptr;
  ++stats_.pushes;
  stats_.push_bytes += tag.xml().size();
  if (!live_) return nullptr;
  for (const gloox::Tag* t : query->findChildren("item")) {
    if (auto item = item_from_tag(*t)) apply_push(roster_, *item);
  }
  roster_.ver = query->findAttribute("ver");
  save();
  return nullptr;
}

void RosterVersioning::save() {
  if (cache_ == nullptr) return;
  stats_.save_status = cache_->save(account_, roster_);
  if (stats_.save_status.ok()) ++stats_.saves;
}

void RosterVersioning::erase() {
  if (cache_ == nullptr) return;
  stats_.save_status = cache_->erase(account_);
}

}  // namespace rpsync::client
