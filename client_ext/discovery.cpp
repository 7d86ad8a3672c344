// SPDX-License-Identifier: MIT
#include "client_ext/discovery.h"

#include <gloox/disco.h>
#include <gloox/jid.h>

#include <utility>

#include "protocol/ns.h"

namespace rpsync::client {

namespace {
constexpr std::size_t kMaxDiscoItems = 64;
}  // namespace

ComponentDiscovery::ComponentDiscovery(Client& client, std::string configured,
                                       std::function<std::chrono::steady_clock::time_point()> now,
                                       std::function<void(const std::string&)> on_done)
    : client_(client),
      now_(std::move(now)),
      on_done_(std::move(on_done)),
      component_(std::move(configured)) {
  if (!component_.empty()) state_ = State::kDone;
}

ComponentDiscovery::~ComponentDiscovery() {
  client_.disco()->removeDiscoHandler(this);
}

void ComponentDiscovery::adopt(const std::string& stored) {
  if (component_.empty()) component_ = stored;
}

void ComponentDiscovery::expire_empty(std::chrono::steady_clock::time_point now,
                                      std::chrono::milliseconds rediscover_after) {
  if (state_ == State::kDone && component_.empty() && now - discovered_at_ >= rediscover_after) {
    state_ = State::kIdle;
  }
}

void ComponentDiscovery::start_if_idle() {
  if (state_ != State::kIdle) return;
  state_ = State::kRunning;
  outstanding_ = 1;
  client_.disco()->getDiscoItems(gloox::JID(client_.jid().server()), std::string(), this,
                                 kCtxItems);
}

void ComponentDiscovery::forget() {
  component_.clear();
  state_ = State::kIdle;
}

void ComponentDiscovery::handleDiscoItems(const gloox::JID& /*from*/,
                                          const gloox::Disco::Items& items, int context) {
  if (context != kCtxItems || state_ != State::kRunning) return;
  std::size_t n = 0;
  for (const gloox::Disco::Item* item : items.items()) {
    if (item == nullptr || !item->jid() || n++ == kMaxDiscoItems) break;
    ++outstanding_;
    client_.disco()->getDiscoInfo(item->jid(), std::string(), this, kCtxInfo);
  }
  finish_item();
}

void ComponentDiscovery::handleDiscoInfo(const gloox::JID& from, const gloox::Disco::Info& info,
                                         int context) {
  if (context != kCtxInfo || state_ != State::kRunning) return;
  if (component_.empty() && info.hasFeature(std::string(ns::kRpsync))) component_ = from.full();
  finish_item();
}

void ComponentDiscovery::handleDiscoError(const gloox::JID& /*from*/, const gloox::Error* /*error*/,
                                          int context) {
  if ((context != kCtxItems && context != kCtxInfo) || state_ != State::kRunning) return;
  finish_item();
}

void ComponentDiscovery::finish_item() {
  if (--outstanding_ > 0) return;
  state_ = State::kDone;
  discovered_at_ = now_();
  on_done_(component_);
}

}  // namespace rpsync::client
