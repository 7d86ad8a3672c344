// SPDX-License-Identifier: MIT
// What the server tells the component about its users' sessions, and so what a sync can
// prove (spec "Server Behaviour"):
//
//   kResends    Prosody: every session end reaches the component (mod_privilege forwards
//               the unavailable), and on component connect the server re-sends the current
//               presence of every local session.
//   kReported   ejabberd with mod_rpsync_gate (feature urn:xmpp:rpsync:0#sessions on the
//               users' host): the module reports every session end, and on component
//               connect re-sends the current presence of every local session and then
//               sends <sessions-sent/> (one message per host). The view is complete once
//               every served host has sent it: no settle delay, no guess.
//   kUnreported ejabberd without it: a session that drops while none of its contacts is
//               online ends unseen, and nothing is re-sent on connect. The component
//               cannot tell a held presence from a new session with the same full JID
//               (which answers a ping), nor see a resource that stayed silent since it
//               connected, so a sync that depends on either fails (continuity-lost).
//
// SessionsSent tracks the <sessions-sent/> messages of one connection. Pure; event loop.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "protocol/delta.h"
#include "protocol/xml.h"

namespace rpsync::service {

enum class ServerView { kResends, kReported, kUnreported };
std::string_view to_string(ServerView v);  // "resends", "reported", "unreported"

// The served host a <message><sessions-sent xmlns='urn:xmpp:rpsync:0'/></message> is from,
// or nullopt when the stanza is not one (wrong payload, 'from' not a bare domain).
std::optional<std::string> sessions_sent_host(const xml::Element& message);

class SessionsSent {
 public:
  // A new connection: no host has sent it yet.
  void reset(const std::set<std::string, std::less<>>& hosts) {
    waiting_ = hosts;
    done_.clear();
  }
  // `host` sent <sessions-sent/>; false when it is not a served host.
  bool note(std::string_view host);
  bool complete() const { return waiting_.empty(); }
  // The served hosts that have sent it on this connection.
  const std::set<std::string, std::less<>>& done() const { return done_; }
  // The hosts still awaited, comma-separated (for logs and not-ready texts).
  std::string missing() const;

 private:
  std::set<std::string, std::less<>> waiting_;
  std::set<std::string, std::less<>> done_;
};

// kUnreported: why a finished delta cannot be proven, or "" when it can. A contact added
// to the roster since the key is sent with every resource the component holds for it;
// without session reports a resource that stayed silent since the component connected is
// not among them, and the client could not notice (the digest is computed from the same
// view).
std::string unprovable_on_unreported(const proto::Delta& d);

}  // namespace rpsync::service
