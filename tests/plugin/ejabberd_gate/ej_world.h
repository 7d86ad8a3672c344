// SPDX-License-Identifier: MIT
// Test world for mod_rpsync_gate on ejabberd (plugin/ejabberd): a real ejabberd 23.01 from
// tests/harness/ejabberd with the module built by this build tree loaded (or not), the user
// alice@example.test and contacts with mutual ('both') subscriptions, raw XML clients
// (Peer) and a raw XEP-0114 component socket (RawComponent).
//
// Contract:
//  * EjWorld::start() registers users and rosters, launches ejabberd, logs the online
//    contacts in (resource "r"), makes each send its initial presence and returns once all
//    of them are settled (barrier()). Null with `why` on failure; `*not_installed` says
//    whether ejabberd (or the built module, when asked for) is missing.
//  * ejabberd answers a probe in the contact's session process, so a probe answer can
//    reach the prober after the server answered a later ping. barrier() is causal instead:
//    the client pings every online contact's full JID (queued behind the probes in the
//    contact's session), every contact answers, and the client waits for all answers and a
//    server ping; everything the probes caused arrived before. Bounded by kTimeout.
//  * Peer keeps what it reads while waiting for something else, so a barrier does not
//    hide stanzas from later assertions. Not thread-safe; blocking, bounded by timeouts.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/xml.h"
#include "tests/harness/ejabberd/ejabberd_server.h"
#include "tests/harness/test_client.h"
#include "tests/harness/xml_socket.h"

namespace rpsync::test::ejgate {

inline constexpr const char* kHost = "example.test";
inline constexpr const char* kAlice = "alice@example.test";
inline constexpr const char* kPassword = "pw";
inline constexpr const char* kComponent = "rpsync.example.test";
inline constexpr std::chrono::milliseconds kTimeout{5000};

using Pred = std::function<bool(const xml::Element&)>;

// A logged-in raw client that buffers what it reads past.
class Peer {
 public:
  explicit Peer(std::unique_ptr<TestClient> client) : client_(std::move(client)) {}
  const std::string& jid() const { return client_->jid(); }
  bool send(const xml::Element& stanza) { return client_->send(stanza); }
  bool send_raw(std::string_view bytes) { return client_->send_raw(bytes); }
  // First buffered or new stanza matching `pred`; the others stay buffered.
  std::optional<xml::Element> take(const Pred& pred, std::chrono::milliseconds timeout = kTimeout);
  // Everything buffered, then everything that arrives within `quiet`.
  std::vector<xml::Element> drain(std::chrono::milliseconds quiet);
  // Everything buffered (read past by take()), without reading more.
  std::vector<xml::Element> take_buffer();
  void close() { client_->close(); }
  void abort() { client_->abort(); }

 private:
  std::unique_ptr<TestClient> client_;
  std::deque<xml::Element> buffer_;
};

struct Received {
  std::vector<xml::Element> stanzas;
  std::size_t bytes = 0;  // re-serialised stanzas (xml::to_string), within bytes of the wire
  bool complete = false;  // every barrier answer arrived
  std::size_t presences_from(std::string_view from_prefix) const;
  std::size_t presences() const { return presences_from(""); }
};

struct WorldOptions {
  int online_contacts = 5;               // c0..@example.test, online with resource "r"
  int offline_contacts = 1;              // off0..@example.test, never logged in
  bool caps_presence = false;            // contacts' presence carries show/status/priority/caps
  bool load_gate = true;                 // false: the same world without the module (a control)
  std::vector<std::string> extra_users;  // accounts without roster items
  std::optional<std::vector<std::string>> components;  // module option; nullopt: {kComponent}
  int resume_timeout_s = 300;
};

class EjWorld {
 public:
  static std::unique_ptr<EjWorld> start(const WorldOptions& options, std::string* why,
                                        bool* not_installed);
  EjabberdServer& server() { return *server_; }
  std::vector<std::unique_ptr<Peer>>& contacts() { return contacts_; }
  std::unique_ptr<Peer> login(const std::string& user, const std::string& resource,
                              std::string* why);
  // What `client` received until every online contact and the server answered a ping
  // (see the contract above); the stanzas are taken from its buffer.
  Received barrier(Peer& client);

 private:
  WorldOptions options_;
  std::unique_ptr<EjabberdServer> server_;
  std::vector<std::unique_ptr<Peer>> contacts_;
};

// A raw component stream (XEP-0114) to ejabberd, handshake done; the privilege
// advertisement and everything else are left in the stream for the test to read.
class RawComponent {
 public:
  static std::unique_ptr<RawComponent> connect(std::uint16_t port, const std::string& jid,
                                               const std::string& secret, std::string* why);
  std::optional<xml::Element> next(std::chrono::milliseconds timeout) {
    return socket_->next(timeout);
  }
  bool send(const xml::Element& stanza);
  void abort() { socket_->abort(); }

 private:
  explicit RawComponent(std::unique_ptr<XmlSocket> socket) : socket_(std::move(socket)) {}
  std::unique_ptr<XmlSocket> socket_;
};

// <presence/> with optional show/status and, when `marked`, <synced xmlns='urn:xmpp:rpsync:0'/>.
xml::Element presence(bool marked, std::string_view show = {}, std::string_view status = {});
xml::Element unavailable();
bool has_marker(const xml::Element& stanza);
bool is_presence_from(const xml::Element& stanza, std::string_view from_prefix);
// Presence from a contact (c*, off*) in `r`.
std::size_t contact_presences(const Received& r);

}  // namespace rpsync::test::ejgate
