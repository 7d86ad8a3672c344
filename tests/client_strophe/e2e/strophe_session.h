// SPDX-License-Identifier: MIT
// Test and bench helper: one libstrophe 0.12 client (its own xmpp_ctx_t and xmpp_conn_t)
// on 127.0.0.1 without TLS, driven by pump() from the caller's thread. It records what
// the application would see: connects and disconnects, every stanza on the wire (from
// libstrophe's debug log) and the presence state the contact presence it received builds
// (full JID -> canonical fields, the user's own resources left out), so a plain login's
// flood can be compared with what an rpsync client applied.
//
// A plain login is `login_plain()`: roster get, initial presence, then a ping to the server
// whose answer means Prosody has sent every probe answer (it answers local probes
// synchronously). An rpsync client sets `on_connected` and lets the binding speak instead.
// Every wait is bounded by its timeout. Not thread-safe.
#pragma once

#include <strophe.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/state.h"

namespace rpsync::test::strophe {

using Millis = std::chrono::milliseconds;

class StropheSession {
 public:
  // `full_jid` user@host/resource; connects to 127.0.0.1:`port` (plain TCP, stream
  // management off: libstrophe 0.12 cannot keep it across process restarts anyway).
  // `wire_log` false: no libstrophe log at all (wire() stays empty; for measurements).
  StropheSession(std::string full_jid, std::string password, std::uint16_t port,
                 bool wire_log = true);
  ~StropheSession();
  StropheSession(const StropheSession&) = delete;
  StropheSession& operator=(const StropheSession&) = delete;

  xmpp_ctx_t* ctx() const { return ctx_; }
  xmpp_conn_t* conn() const { return conn_; }
  const std::string& jid() const { return jid_; }
  std::string bare() const;
  std::string domain() const;

  // Runs on XMPP_CONN_CONNECT (after bind), before anything else the session does.
  std::function<void()> on_connected;
  // Runs on XMPP_CONN_DISCONNECT and XMPP_CONN_FAIL.
  std::function<void()> on_disconnected;
  // Starts the connection instead of xmpp_connect_client(conn, "127.0.0.1", port, ...),
  // e.g. through a binding that wraps it; gets the host, port and the session's handler.
  std::function<int(const char* host, unsigned short port, xmpp_conn_handler handler,
                    void* userdata)>
      connector;
  // Runs for every stanza received after authentication, before the session looks at it.
  std::function<void(xmpp_stanza_t*)> on_stanza;
  // Runs for every wire line as it is logged (">> ..." or "<< ..."; needs wire_log).
  std::function<void(const std::string& line)> on_wire;
  // false: seen() stays empty (contact presence is only counted; for measurements).
  bool collect_presence = true;
  // Runs once per pump() iteration (e.g. to drive a second client in the same thread).
  std::function<void()> side;

  // Starts connecting (the next connect on the same connection after a disconnect
  // works too); false when libstrophe refused at once. Clears seen() and the wire log.
  bool connect();
  // The port the next connect() uses (e.g. a proxy's).
  void set_port(std::uint16_t port) { port_ = port; }
  // Runs the event loop until `done` or `timeout`; returns done().
  bool pump(const std::function<bool()>& done, Millis timeout = Millis(10000));
  void pump_for(Millis d);
  // connect() + pump until connected.
  bool connect_and_wait(Millis timeout = Millis(10000));

  // A plain login's client side once connected: roster get, initial presence, ping to
  // the server; true when the ping was answered (the flood is complete).
  bool login_plain(Millis timeout = Millis(10000));
  // Sends a XEP-0199 ping to `to` and pumps until its answer; true on a result.
  bool ping(const std::string& to, Millis timeout = Millis(10000));
  // Sends raw XML (a complete stanza).
  void send_raw(const std::string& xml);
  // Graceful: </stream:stream>, then pumps until libstrophe reports the disconnect.
  bool disconnect(Millis timeout = Millis(5000));

  bool connected() const { return connected_; }
  int connects() const { return connects_; }
  int disconnects() const { return disconnects_; }

  // Presence received since connect(): every available presence of another account's
  // resource, minus those that went unavailable since.
  const proto::PresenceState& seen() const { return seen_; }
  // Available presence stanzas from other accounts received since connect().
  std::size_t contact_presences() const { return contact_presences_; }
  // Both directions since connect(), in order, prefixed ">> " (sent) or "<< " (received).
  const std::vector<std::string>& wire() const { return wire_; }
  // Index of the first wire line starting with `dir` (">> " or "<< ") that contains
  // `needle`, at or after `from`; -1 when none.
  long find_wire(const std::string& dir, const std::string& needle, std::size_t from = 0) const;

 private:
  static void on_conn(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                      xmpp_stream_error_t* stream_error, void* userdata);
  static int on_presence(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* userdata);
  static int on_any(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* userdata);
  static int on_iq_result(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* userdata);
  static void on_log(void* userdata, xmpp_log_level_t level, const char* area, const char* msg);
  void note_presence(xmpp_stanza_t* stanza);

  std::string jid_;
  std::string password_;
  std::uint16_t port_;
  xmpp_log_t log_{};
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  bool connected_ = false;
  int connects_ = 0;
  int disconnects_ = 0;
  proto::PresenceState seen_;
  std::size_t contact_presences_ = 0;
  std::vector<std::string> wire_;
  std::vector<std::string> answered_;  // ids of iq results/errors received
  int next_id_ = 0;
};

// The presence state a fresh plain libstrophe login of `full_jid` receives (the flood),
// logged out again; `ok` false when the login or its ping failed.
struct FreshView {
  bool ok = false;
  proto::PresenceState state;
};
FreshView fresh_login_view(const std::string& full_jid, const std::string& password,
                           std::uint16_t port, Millis timeout = Millis(10000));

}  // namespace rpsync::test::strophe
