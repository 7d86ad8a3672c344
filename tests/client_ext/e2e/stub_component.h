// SPDX-License-Identifier: MIT
// A scripted stand-in for the rpsync component, for client-side scenario tests while the
// real component (plugin/) is being built. It is a gloox XEP-0114 component on the test's
// Prosody with the harness's privileges, so it sees the users' real broadcast presence,
// and it answers enable / checkpoint / sync / disable from that view:
//   view(user)  = every available resource of the host's users except the user's own;
//   key moments = the view at each answered transaction, by IQ id;
//   sync        = proto::diff(view at key.last, view now), or a scripted error.
// It does not check subscriptions, lifetimes or rate limits: the end-to-end tests with
// the real component cover those. Single-threaded; drive it with pump().
#pragma once

#include <gloox/component.h>

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "protocol/error.h"
#include "protocol/state.h"

namespace rpsync::client::testing {

class StubComponent final : public gloox::Component {
 public:
  StubComponent(const std::string& jid, const std::string& secret, int port);

  void handleTag(gloox::Tag* tag) override;
  bool ready() const { return ready_; }
  void pump() { recv(1000); }  // microseconds

  // Scripting.
  std::optional<proto::StanzaError> sync_error;  // answer every sync with this
  bool corrupt_digest = false;                   // lie about the digest in deltas
  void forget_keys() { moments_.clear(); }       // as after a component data loss
  std::function<void()> on_sync_answered;        // runs right after a delta is sent

  // Observations.
  int enables = 0;
  int checkpoints = 0;
  int syncs = 0;
  int disables = 0;
  std::optional<proto::Delta> last_delta;
  proto::PresenceState view_of(const std::string& user_bare) const;

 private:
  void answer(const xml::Element& iq);
  void reply(const xml::Element& iq, std::optional<xml::Element> payload);
  void reply_error(const xml::Element& iq, const proto::StanzaError& e);

  bool ready_ = false;
  proto::PresenceState everyone_;                        // full JID -> fields
  std::map<std::string, proto::PresenceState> moments_;  // iq id -> view then
};

}  // namespace rpsync::client::testing
