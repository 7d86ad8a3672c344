// SPDX-License-Identifier: MIT
// Test helpers for the roster-versioning features of mod_rpsync_gate (plugin/prosody):
// a raw XEP-0114 component connection to a real Prosody, a Prosody whose config is
// patched for those tests, and a roster model to compare wire answers with.
//
// Contracts:
//  * RawComponent::connect() opens a component stream on 127.0.0.1:port, completes the
//    handshake and, when `await_privileges`, waits for mod_privilege's advertisement.
//    request() sends an iq and returns the stanza answering its id (others are dropped);
//    wire_bytes() counts every byte read from the socket. TCP_NODELAY is set, like the
//    rpsync component's own socket. Blocking, bounded by timeouts,
//    not thread-safe.
//  * start_roster_server() writes users/rosters, loads the module on example.test
//    (unless `load_module` is false), adds a second component "norights.example.test"
//    that is a privileged entity WITHOUT roster permission, and launches Prosody.
//  * Roster is a value: jid -> item; parse_roster() reads a <query xmlns='jabber:iq:roster'/>,
//    apply_push() applies one roster push (RFC 6121 §2.1.6) to it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/xml.h"
#include "tests/harness/prosody/prosody_server.h"
#include "tests/harness/xml_socket.h"

namespace rpsync::test::rosterver {

inline constexpr const char* kHost = "example.test";
inline constexpr const char* kAlice = "alice@example.test";
inline constexpr const char* kPassword = "pw";
inline constexpr const char* kNoRightsComponent = "norights.example.test";
inline constexpr std::chrono::milliseconds kTimeout{5000};

class RawComponent {
 public:
  static std::unique_ptr<RawComponent> connect(uint16_t port, const std::string& jid,
                                               const std::string& secret, bool await_privileges,
                                               std::string* why);
  ~RawComponent();
  RawComponent(const RawComponent&) = delete;
  RawComponent& operator=(const RawComponent&) = delete;

  const std::string& jid() const { return jid_; }
  bool send(const xml::Element& stanza);  // written in jabber:component:accept
  std::optional<xml::Element> next(std::chrono::milliseconds timeout);
  // Sends `iq` (its id must be set) and waits for the stanza with the same id.
  std::optional<xml::Element> request(const xml::Element& iq,
                                      std::chrono::milliseconds timeout = kTimeout);
  std::size_t wire_bytes() const { return socket_->wire_bytes(); }

 private:
  RawComponent(std::unique_ptr<XmlSocket> socket, std::string jid);

  std::unique_ptr<XmlSocket> socket_;
  std::string jid_;
};

struct RosterServerOptions {
  int contacts = 3;                      // c0..c(n-1)@example.test, each 'both' with alice
  bool load_module = true;               // false: the same server without mod_rpsync_gate
  std::vector<std::string> extra_users;  // accounts without roster items
  std::string host_config;               // extra lines for the VirtualHost "example.test" section
  std::string global_config;             // extra lines for the global section
};
// Null with `why` set on failure; `*not_installed` tells whether Prosody is missing.
std::unique_ptr<ProsodyServer> start_roster_server(const RosterServerOptions& options,
                                                   std::string* why, bool* not_installed);

// Starts the server into `var` (a std::unique_ptr<ProsodyServer>) or skips the test when
// Prosody is not installed (fails it otherwise), with the reason.
#define START_SERVER_OR_SKIP(var, options)                               \
  std::string var##_why;                                                 \
  bool var##_missing = false;                                            \
  auto var = start_roster_server((options), &var##_why, &var##_missing); \
  if (!var) {                                                            \
    if (var##_missing) GTEST_SKIP() << var##_why;                        \
    FAIL() << var##_why;                                                 \
  }

struct Item {
  std::string subscription;
  std::string ask;
  std::optional<std::string> name;
  std::set<std::string> groups;
  friend bool operator==(const Item&, const Item&) = default;
};
using Roster = std::map<std::string, Item>;

// <iq type='get' id=ID [to=TO]><query xmlns='jabber:iq:roster' [ver=VER]/></iq>
xml::Element roster_get(std::string id, std::optional<std::string> to,
                        std::optional<std::string> ver, std::string_view stanza_ns);
const xml::Element* roster_query(const xml::Element& iq);
Roster parse_roster(const xml::Element& query);
// Applies the single <item/> of a push's query; false if it is not a well-formed push.
bool apply_push(Roster& roster, const xml::Element& push);
std::string describe(const Roster& roster);

}  // namespace rpsync::test::rosterver
