// SPDX-License-Identifier: MIT
// Test world for mod_rpsync_gate (plugin/prosody): a real Prosody 0.12 from
// tests/harness with the module loaded from the source tree through plugin_paths,
// the user alice@example.test and contacts with mutual ('both') subscriptions.
//
// Contract: GateWorld::start() writes users and rosters, patches the harness's config
// (plugin_paths + modules_enabled on the VirtualHost), launches Prosody, logs the online
// contacts in and makes each send its initial presence, and returns once the server has
// processed all of them (a ping round trip per contact). Not thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/xml.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/test_client.h"

namespace rpsync::test::gate {

inline constexpr const char* kHost = "example.test";
inline constexpr const char* kOtherHost = "other.test";
inline constexpr const char* kAlice = "alice@example.test";
inline constexpr const char* kPassword = "pw";
inline constexpr std::chrono::milliseconds kTimeout{5000};

struct WorldOptions {
  int online_contacts = 5;     // c0..c(n-1)@example.test, logged in with resource "r"
  int offline_contacts = 1;    // off0..@example.test, never logged in
  bool caps_presence = false;  // contacts' presence carries show/status/caps, like a real client
  bool load_gate = true;       // false: the same world without the module (a control)
  std::vector<std::string> extra_users;  // users without roster items (e.g. "eve")
  int other_host_contacts = 0;           // x0..@other.test (a second VirtualHost), online, 'both'
};

class GateWorld {
 public:
  // Null with `why` set on failure; `*not_installed` tells whether Prosody is missing.
  static std::unique_ptr<GateWorld> start(const WorldOptions& options, std::string* why,
                                          bool* not_installed);

  ProsodyServer& server() { return *server_; }
  std::vector<std::unique_ptr<TestClient>>& contacts() { return contacts_; }
  int offline_contacts() const { return options_.offline_contacts; }
  std::unique_ptr<TestClient> login(const std::string& user, const std::string& resource,
                                    std::string* why);

 private:
  WorldOptions options_;
  std::unique_ptr<ProsodyServer> server_;
  std::vector<std::unique_ptr<TestClient>> contacts_;
};

// Adds plugin_paths (RPSYNC_GATE_PLUGIN_DIR) and modules_enabled = { "rpsync_gate" } on
// the VirtualHost `host` to the config the harness wrote; call before launch().
bool load_gate_module(const ProsodyServer& server, const std::string& host, std::string* why);

// <presence/> with optional show/status and, when `marked`, <synced xmlns='urn:xmpp:rpsync:0'/>.
xml::Element presence(bool marked, std::string_view show = {}, std::string_view status = {});
bool has_marker(const xml::Element& stanza);
bool is_presence_from(const xml::Element& stanza, std::string_view from_prefix);

// Everything the server sent before answering a ping sent now. Stanzas from the
// server are written in order on one connection, so what a presence sent earlier on
// this connection caused synchronously (Prosody answers local probes synchronously)
// arrives before the ping result. `bytes` re-serialises each stanza with
// rpsync::xml::to_string (within a few bytes of the wire, which the client cannot see).
struct Received {
  std::vector<xml::Element> stanzas;
  std::size_t bytes = 0;
  bool complete = false;  // the ping result arrived
  std::size_t presences() const;
  std::size_t presences_from(std::string_view from_prefix) const;
};
Received collect_until_ping(TestClient& client, std::chrono::milliseconds timeout = kTimeout);

// Starts a GateWorld into `var`; skips the test when Prosody is not installed, fails it
// on any other start-up failure.
#define START_WORLD_OR_SKIP(var, options)                             \
  std::string var##_why;                                              \
  bool var##_missing = false;                                         \
  auto var = GateWorld::start((options), &var##_why, &var##_missing); \
  if (!var) {                                                         \
    if (var##_missing) GTEST_SKIP() << var##_why;                     \
    FAIL() << var##_why;                                              \
  }

}  // namespace rpsync::test::gate
