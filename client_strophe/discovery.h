// SPDX-License-Identifier: MIT
// Discovery: finds the rpsync component on the account's server, as the gloox binding
// does (client_ext/discovery.h): disco#items of the server, then disco#info of at most 64
// items; the first that advertises urn:xmpp:rpsync:0 is the component. A configured
// component skips the walk; a walk that found nothing runs again at a login
// `rediscover_after` later; a component that turned out missing is looked for again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "client_strophe/iq_router.h"

namespace rpsync::strophe {

class Discovery {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Discovery(IqRouter& router, std::string configured,
            std::function<void(const std::string&)> on_done);

  const std::string& component() const { return component_; }
  bool done() const { return state_ == State::kDone; }
  // The component known from a stored session, when none is configured or found.
  void adopt(const std::string& stored);
  // At a login: a walk that found nothing `rediscover_after` ago may run again.
  void expire_empty(TimePoint now, std::chrono::milliseconds rediscover_after);
  // Starts a walk of `server` (the account's domain) when none ran or the last was
  // forgotten; `now` stamps its end.
  void start_if_idle(const std::string& server, std::function<TimePoint()> now);
  // The component answered as if it were not there: look for it again at the next chance.
  void forget();
  // The connection is gone: a walk in progress is abandoned (its answers cannot come).
  void on_disconnect();

 private:
  enum class State : std::uint8_t { kIdle, kRunning, kDone };

  void on_items(const xml::Element& iq);
  void on_info(const std::string& jid, const xml::Element& iq);
  void finish_item();

  IqRouter& router_;
  std::function<void(const std::string&)> on_done_;
  std::function<TimePoint()> now_;
  std::string component_;
  State state_ = State::kIdle;
  TimePoint discovered_at_{};
  int outstanding_ = 0;
};

// Whether a disco#info result lists <feature var=`feature`/>.
bool has_feature(const xml::Element& iq, std::string_view feature);

}  // namespace rpsync::strophe
