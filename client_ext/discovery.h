// SPDX-License-Identifier: MIT
// ComponentDiscovery: finds the rpsync component on the account's server (disco#items of
// the server, then disco#info of at most 64 items; the first that advertises
// urn:xmpp:rpsync:0 is the component). A configured component skips the walk. A walk that
// found nothing is repeated at a login `rediscover_after` later; a component that turned
// out missing is forgotten and looked for again. Part of RpsyncManager (manager.h).
#pragma once

#include <gloox/discohandler.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "client.h"

namespace rpsync::client {

class ComponentDiscovery : private gloox::DiscoHandler {
 public:
  // `on_done` is called with the component's JID ("" = none) when a walk ends.
  ComponentDiscovery(Client& client, std::string configured,
                     std::function<std::chrono::steady_clock::time_point()> now,
                     std::function<void(const std::string&)> on_done);
  ~ComponentDiscovery() override;
  ComponentDiscovery(const ComponentDiscovery&) = delete;
  ComponentDiscovery& operator=(const ComponentDiscovery&) = delete;

  const std::string& component() const { return component_; }
  bool done() const { return state_ == State::kDone; }
  bool idle() const { return state_ == State::kIdle; }
  // The component known from a stored session, when none is configured or found.
  void adopt(const std::string& stored);
  // At a login: a walk that found nothing `rediscover_after` ago may run again.
  void expire_empty(std::chrono::steady_clock::time_point now,
                    std::chrono::milliseconds rediscover_after);
  // Starts a walk when none ran (or the last one was forgotten).
  void start_if_idle();
  // The component answered as if it were not there: look for it again at the next chance.
  void forget();

 private:
  enum class State : std::uint8_t { kIdle, kRunning, kDone };
  enum Context : int { kCtxItems = 2, kCtxInfo = 3 };

  void handleDiscoInfo(const gloox::JID& from, const gloox::Disco::Info& info,
                       int context) override;
  void handleDiscoItems(const gloox::JID& from, const gloox::Disco::Items& items,
                        int context) override;
  void handleDiscoError(const gloox::JID& from, const gloox::Error* error, int context) override;
  void finish_item();

  Client& client_;
  std::function<std::chrono::steady_clock::time_point()> now_;
  std::function<void(const std::string&)> on_done_;
  std::string component_;
  State state_ = State::kIdle;
  std::chrono::steady_clock::time_point discovered_at_{};
  int outstanding_ = 0;
};

}  // namespace rpsync::client
