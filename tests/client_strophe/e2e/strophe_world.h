// SPDX-License-Identifier: MIT
// Fixture of the libstrophe end-to-end tests: a real Prosody 0.12 with mod_rpsync_gate and
// the real rpsync-component (SQLite store in the world's directory), started per test
// through tests/scenario's World; alice@example.test with contacts bob, carol and dave
// (subscription both) and ivan, a user she does not know yet; libstrophe clients with
// librpsync-strophe attached (RpsyncClient) and plain libstrophe logins for the fresh view
// (fresh_login_view).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/client_strophe/e2e/rpsync_client.h"
#include "tests/client_strophe/e2e/strophe_session.h"
#include "tests/scenario/world.h"

namespace rpsync::test::strophe {

inline constexpr const char* kAlice = "alice@example.test";
inline constexpr const char* kIvan = "ivan@example.test";
inline constexpr const char* kComponentJid = "rpsync.example.test";

// The presence state without the resources of `own_bare` (the user's other sessions).
proto::PresenceState without_own(proto::PresenceState s, const std::string& own_bare);
// "count:hex" of the spec's digest of `s`, as RpsyncClient::digest_hex() renders it.
std::string digest_text(const proto::PresenceState& s);

// What the binding reported, for failure messages.
std::string events_of(const RpsyncClient& a);
// The session's wire log since its last connect, one line per stanza.
std::string wire_of(const RpsyncClient& a);

class StropheWorld : public ::testing::Test {
 protected:
  using World = scenario::World<ProsodyServer>;

  // alice with `contacts` (bare JIDs, mutual subscriptions), the gate on, only example.test.
  static scenario::WorldSpec spec_for(const std::vector<std::string>& contacts);
  // Starts the world (a fatal failure, or a skip when Prosody is not installed).
  void start(scenario::WorldSpec spec);
  void SetUp() override;  // start(spec_for({bob, carol, dave}))

  std::uint16_t port() const { return world->server().c2s_port(); }
  // A libstrophe alice with librpsync-strophe, not connected yet.
  std::unique_ptr<RpsyncClient> alice(const std::string& resource = "laptop",
                                      const std::string& state_file = "", std::uint16_t port = 0);
  // alice's first login: full (no stored state), enabled with matching digests, then a
  // graceful logout (non-fatal failures when any step fails).
  std::unique_ptr<RpsyncClient> enabled_alice(const std::string& resource = "laptop",
                                              const std::string& state_file = "");
  // `bare`/`resource` logs in with a raw client and shows `fields`.
  std::unique_ptr<scenario::Party> online(const std::string& bare, const std::string& resource,
                                          const proto::PresenceFields& fields = {});
  // The component has processed everything the server routed so far (a ping through
  // `via` answered in order after the presence it sent).
  void settle(scenario::Party& via);
  // After a sync: the binding's view (own resources aside) equals a fresh plain libstrophe
  // login's, and its digest the digest of that login's flood.
  void expect_view_is_fresh_login(RpsyncClient& a);
  std::string component_log() { return world->component().log(); }

  std::unique_ptr<World> world;
  std::unique_ptr<scenario::Party> bob;  // online from SetUp: bob/phone away "brb"
  int fresh_ = 0;
};

}  // namespace rpsync::test::strophe
