// SPDX-License-Identifier: MIT
// One XMPP session of a user in a scenario ("alice", "carol/laptop"), with the verbs the
// scenarios are written in: sends presence, collects the presence flood, sends rpsync
// requests to the component and reads the answers through rpsync::proto.
//
// Contract: built on tests/harness TestClient (plain c2s on loopback). Stanzas that arrive
// while the test waits for something else are kept in order in an inbox, never dropped, so
// a later collect sees them. Every wait is bounded (default 5 s). Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/delta.h"
#include "protocol/error.h"
#include "protocol/presence.h"
#include "protocol/session.h"
#include "protocol/state.h"
#include "protocol/sync.h"
#include "protocol/xml.h"
#include "tests/harness/test_client.h"

namespace rpsync::test::scenario {

using Millis = std::chrono::milliseconds;
inline constexpr Millis kWait{5000};

// The answer to one IQ: a result payload (possibly none) or a stanza error.
struct Answer {
  bool arrived = false;
  std::optional<xml::Element> payload;  // first child of a result
  std::optional<proto::StanzaError> error;
  std::size_t bytes = 0;  // serialised stanza as received
  bool ok() const { return arrived && !error; }
  // "result", "timeout" or "error <condition>/<app condition>: text" for messages.
  std::string describe() const;
  // The app condition of an error (kNone for results and plain errors).
  proto::AppCondition app() const { return error ? error->app : proto::AppCondition::kNone; }
};

// What a session received after its initial presence, until a ping round trip.
struct Flood {
  proto::PresenceState state;  // contact resources shown (own resources excluded)
  std::size_t presences = 0;   // presence stanzas received from contacts (own excluded)
  std::size_t bytes = 0;       // their serialised size
  bool complete = false;       // the ping result arrived
};

class Party {
 public:
  static std::unique_ptr<Party> login(std::uint16_t c2s_port, const std::string& bare,
                                      const std::string& password, const std::string& resource,
                                      std::string* why);

  const std::string& jid() const { return client_->jid(); }
  std::string bare() const { return std::string(proto::bare_of(jid())); }
  const std::string& resource() const { return resource_; }
  const std::string& stream_id() const { return client_->stream_id(); }
  TestClient& raw() { return *client_; }

  // --- presence ---
  bool sends_presence(const proto::PresenceFields& fields);
  bool sends_unavailable();
  // Initial (or any) presence, then everything received until a ping round trip and then
  // until nothing arrived for `quiet` (0: stop at the ping result; right for servers that
  // answer probes before the ping, like Prosody), folded into the contact state shown.
  // The whole wait is bounded by `timeout`.
  Flood sends_presence_and_collects_flood(const proto::PresenceFields& fields = {},
                                          Millis quiet = Millis(0), Millis timeout = kWait);
  // A ping round trip with its server: when it returns true, the server has processed
  // everything this session sent before (stanzas arriving meanwhile stay in the inbox).
  bool settles(Millis timeout = kWait);

  // --- rpsync (iq set to the component) ---
  Answer sends_iq(const std::string& to, const std::string& type, const xml::Element& payload,
                  const std::string& id, Millis timeout = kWait);
  Answer sends_enable(const std::string& component, const std::string& id);
  Answer sends_checkpoint(const std::string& component, const std::string& id,
                          const std::string& prev);
  Answer sends_sync(const std::string& component, const std::string& id,
                    const proto::SyncKey& old_key);
  // Sends without waiting; answers() collects answers by id later.
  bool sends_iq_only(const std::string& to, const xml::Element& payload, const std::string& id);
  Answer answer_to(const std::string& id, Millis timeout = kWait);
  // The key this session holds when `last` is its last completed transaction.
  proto::SyncKey key(const std::string& last) const { return {stream_id(), resource_, last}; }

  // --- roster (RFC 6121) from this session ---
  bool sets_roster_item(const std::string& contact_bare, bool remove = false);
  bool sends_subscription(const std::string& to_bare, const std::string& type);
  // Waits for a stanza matching pred (others stay in the inbox).
  std::optional<xml::Element> receives(const std::function<bool(const xml::Element&)>& pred,
                                       Millis timeout = kWait);

  void closes() { client_->close(); }  // graceful: unavailable + </stream:stream>
  void aborts() { client_->abort(); }  // TCP reset, no stream close

 private:
  Party(std::unique_ptr<TestClient> client, std::string resource)
      : client_(std::move(client)), resource_(std::move(resource)) {}
  std::string next_id(const std::string& prefix);

  std::unique_ptr<TestClient> client_;
  std::string resource_;
  std::deque<xml::Element> inbox_;
  std::uint64_t counter_ = 0;
};

// Applies a received presence stanza to a state the way a client shows it: available from
// a full JID sets that resource's fields, unavailable removes it. Presence of `own_bare`
// (the user's other sessions) and anything else is ignored.
void fold_presence(proto::PresenceState& state, const xml::Element& presence,
                   const std::string& own_bare);

// Short human-readable rendering of a state / delta for failure messages.
std::string describe(const proto::PresenceState& s);
std::string describe(const proto::Delta& d);

// A delta with its vectors sorted by JID (the wire order is free), for exact comparison.
proto::Delta sorted(proto::Delta d);

}  // namespace rpsync::test::scenario
